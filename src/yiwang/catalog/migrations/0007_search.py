# Search synonyms kept by staff and the log of queries that found nothing (catalog/search.py).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0006_duplicate_windows'),
    ]

    operations = [
        migrations.CreateModel(
            name='SearchMiss',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('query', models.CharField(max_length=100, unique=True, verbose_name='搜索词')),
                ('count', models.PositiveIntegerField(default=1, verbose_name='次数')),
                ('first_seen', models.DateTimeField(auto_now_add=True, verbose_name='首次')),
                ('last_seen', models.DateTimeField(db_index=True, verbose_name='最近')),
            ],
            options={
                'verbose_name': '无结果搜索',
                'verbose_name_plural': '无结果搜索',
                'ordering': ['-last_seen'],
            },
        ),
        migrations.CreateModel(
            name='SearchSynonym',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('phrase', models.CharField(max_length=100, unique=True, verbose_name='群众说法')),
                ('means', models.CharField(blank=True, help_text='空格分隔的词，按较低权重加入检索', max_length=200, verbose_name='对应目录用语')),
                ('active', models.BooleanField(default=True, verbose_name='启用')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='更新时间')),
                ('matter', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='search_synonyms', to='catalog.matter', verbose_name='直接指向事项')),
            ],
            options={
                'verbose_name': '搜索同义词',
                'verbose_name_plural': '搜索同义词',
                'ordering': ['phrase'],
            },
        ),
    ]
