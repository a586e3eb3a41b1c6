import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0001_initial"),
        ("cases", "0016_upload"),
    ]

    operations = [
        migrations.CreateModel(
            name="CannedReply",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("action", models.CharField(help_text="如 request_supplement、reject、close。", max_length=30,
                                            verbose_name="操作")),
                ("title", models.CharField(max_length=60, verbose_name="名称")),
                ("text", models.TextField(max_length=1000, verbose_name="回复内容")),
                ("active", models.BooleanField(default=True, verbose_name="启用")),
                ("matter", models.ForeignKey(blank=True, help_text="留空：适用于所有事项。", null=True,
                                             on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                             to="catalog.matter", verbose_name="事项")),
            ],
            options={
                "verbose_name": "常用回复",
                "verbose_name_plural": "常用回复",
                "ordering": ["action", "title"],
                "indexes": [models.Index(fields=["action", "matter"], name="canned_reply_action_idx")],
            },
        ),
    ]
