from django.db import migrations, models


class Migration(migrations.Migration):
    # Named 0019: 0018 was reserved for another change in flight when this was written.
    dependencies = [
        ("cases", "0017_canned_reply"),
    ]

    operations = [
        migrations.CreateModel(
            name="RetentionRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("started_at", models.DateTimeField(verbose_name="开始时间")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="结束时间")),
                ("cases", models.PositiveIntegerField(default=0, verbose_name="匿名化案件数")),
                ("counts", models.JSONField(blank=True, default=dict, verbose_name="各类数量")),
                ("files_deleted", models.PositiveIntegerField(default=0, verbose_name="删除文件数")),
                ("errors", models.JSONField(blank=True, default=list, verbose_name="错误")),
            ],
            options={
                "verbose_name": "个人信息保留期清理",
                "verbose_name_plural": "个人信息保留期清理",
                "ordering": ["-started_at"],
            },
        ),
    ]
