"""System checks (`yiwang check`, and every command that runs them first, `yiwang serve` among them)."""

from django.conf import settings
from django.core.checks import Error, Tags, register

from yiwang.core.secret_key import ENVIRONMENT, GENERATE, weakness


@register(Tags.security)
def secret_key_check(app_configs, **kwargs) -> list[Error]:
    """settings.py refuses a weak key as it loads; this catches one set some other way (a settings
    module that imports yiwang's and then assigns SECRET_KEY)."""
    reason = weakness(settings.SECRET_KEY)
    if reason is None:
        return []
    return [Error(f"SECRET_KEY is refused: {reason}.",
                  hint=f"Set {ENVIRONMENT} to a new random secret, e.g. the output of `{GENERATE}`, or leave it "
                       "unset to use the key yiwang keeps in var/secret_key.",
                  id="yiwang.E001")]
