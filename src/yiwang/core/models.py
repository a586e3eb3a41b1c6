from django.db import models


class ConfigVersion(models.Model):
    """One row per in-process configuration cache (see yiwang.core.confcache)."""

    name = models.CharField(max_length=50, primary_key=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"
