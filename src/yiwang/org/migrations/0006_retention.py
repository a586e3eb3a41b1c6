from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("org", "0005_phonecode"),
    ]

    operations = [
        migrations.AddField(
            model_name="resident",
            name="closed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="注销时间"),
        ),
    ]
