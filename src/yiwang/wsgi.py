import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
application = get_wsgi_application()

# Each granian worker imports this module before it takes a request: load what a first request would.
from yiwang.warmup import warm_up  # noqa: E402 - needs the apps loaded above

warm_up()
