# Matters residents may open a case in, the 办事指南's missing parts (visits, delivery, phones, forms to
# download), and FAQ entries that are drafts until staff publish them, one per consultation.

import django.db.models.deletion
from django.db import migrations, models


def internal_matters_and_faq_drafts(apps, schema_editor):
    Matter = apps.get_model("catalog", "Matter")
    MatterFAQ = apps.get_model("catalog", "MatterFAQ")
    # Rectification items and assistance pairs were offered on the portal; they are staff's own.
    Matter.objects.filter(kind__in=["rectification", "assistance"]).update(resident_can_apply=False)
    # A consultation published twice (a double click) keeps its first entry, so the constraint holds.
    seen = set()
    for faq_id, case_id in MatterFAQ.objects.filter(source_case_id__isnull=False).order_by("id").values_list(
            "id", "source_case_id"):
        if case_id in seen:
            MatterFAQ.objects.filter(pk=faq_id).delete()
        seen.add(case_id)
    MatterFAQ.objects.filter(created_at__isnull=True).update(created_at=models.F("published_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0007_search'),
    ]

    operations = [
        migrations.CreateModel(
            name='MatterDocument',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('blank', '空白表格'), ('sample', '填写样表')], default='blank', max_length=10, verbose_name='类型')),
                ('title', models.CharField(max_length=100, verbose_name='名称')),
                ('file', models.FileField(max_length=200, upload_to='catalog/documents/', verbose_name='文件')),
                ('filename', models.CharField(editable=False, max_length=150, verbose_name='下载文件名')),
                ('content_type', models.CharField(editable=False, max_length=100)),
                ('size', models.PositiveIntegerField(default=0, editable=False)),
                ('position', models.PositiveSmallIntegerField(default=0, verbose_name='排序')),
                ('uploaded_at', models.DateTimeField(editable=False, null=True)),
            ],
            options={
                'verbose_name': '表格下载',
                'verbose_name_plural': '表格下载',
                'ordering': ['position', 'id'],
            },
        ),
        migrations.AlterModelOptions(
            name='matterfaq',
            options={'ordering': ['-published_at', '-id'], 'verbose_name': '常见问题', 'verbose_name_plural': '常见问题'},
        ),
        migrations.AddField(
            model_name='matter',
            name='complaint_phone',
            field=models.CharField(blank=True, max_length=60, verbose_name='监督投诉电话'),
        ),
        migrations.AddField(
            model_name='matter',
            name='consult_phone',
            field=models.CharField(blank=True, max_length=60, verbose_name='咨询电话'),
        ),
        migrations.AddField(
            model_name='matter',
            name='delivery',
            field=models.JSONField(blank=True, default=list, verbose_name='结果送达方式'),
        ),
        migrations.AddField(
            model_name='matter',
            name='resident_can_apply',
            field=models.BooleanField(default=True, help_text='群众可在网上申请、咨询或上报；整改事项、帮扶类别只能由工作人员立项。', verbose_name='面向群众'),
        ),
        migrations.AddField(
            model_name='matter',
            name='visits',
            field=models.PositiveSmallIntegerField(default=1, help_text='0 即最多跑零次，全程网办', verbose_name='到现场次数'),
        ),
        migrations.AddField(
            model_name='matterfaq',
            name='created_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='创建时间'),
        ),
        migrations.AddField(
            model_name='matterfaq',
            name='published_by',
            field=models.CharField(blank=True, max_length=150, verbose_name='发布人'),
        ),
        migrations.AlterField(
            model_name='matterfaq',
            name='published_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='发布时间'),
        ),
        migrations.RunPython(internal_matters_and_faq_drafts, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='matterfaq',
            constraint=models.UniqueConstraint(fields=('source_case_id',), name='faq_one_per_case'),
        ),
        migrations.AddField(
            model_name='matterdocument',
            name='matter',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='documents', to='catalog.matter', verbose_name='事项'),
        ),
    ]
