# The admin-editable texts residents are sent (MessageTemplate) and the SMS segment count on each
# message. No rows are seeded: with none, the built-in defaults in yiwang.messages.templates apply.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0006_duplicate_windows'),
        ('messaging', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='message',
            name='segments',
            field=models.PositiveSmallIntegerField(default=1, verbose_name='短信条数'),
        ),
        migrations.CreateModel(
            name='MessageTemplate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event', models.CharField(max_length=40, verbose_name='事件')),
                ('language', models.CharField(default='zh-hans', max_length=10, verbose_name='语言')),
                ('channel', models.CharField(blank=True, choices=[('sms', '短信'), ('email', '电子邮件'), ('inapp', '站内消息')], help_text='留空则用于所有渠道；短信宜短，站内消息可以长一些。', max_length=10, verbose_name='渠道')),
                ('text', models.TextField(verbose_name='内容')),
                ('active', models.BooleanField(default=True, verbose_name='启用')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='更新时间')),
                ('matter', models.ForeignKey(blank=True, help_text='留空则用于所有事项；指定事项的模板优先。', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='catalog.matter', verbose_name='事项')),
            ],
            options={
                'verbose_name': '消息模板',
                'verbose_name_plural': '消息模板',
                'constraints': [models.UniqueConstraint(condition=models.Q(('matter__isnull', True)), fields=('event', 'language', 'channel'), name='messages_template_general'), models.UniqueConstraint(condition=models.Q(('matter__isnull', False)), fields=('event', 'matter', 'language', 'channel'), name='messages_template_matter')],
            },
        ),
    ]
