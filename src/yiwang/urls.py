from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from yiwang.api import api
from yiwang.cases import observability
from yiwang.cases.api import router as cases_router
from yiwang.catalog.api import router as catalog_router
from yiwang.command.api import router as command_router
from yiwang.core import health
from yiwang.feedback.api import router as feedback_router
from yiwang.grid.api import router as grid_router
from yiwang.ledger.api import router as ledger_router
from yiwang.org.api import router as org_router
from yiwang.parking.api import router as parking_router
from yiwang.party.api import router as party_router
from yiwang.patrol.api import router as patrol_router
from yiwang.records import views as records_views
from yiwang.records.api import router as records_router
from yiwang.stats.api import router as stats_router
from yiwang.web import care as web_care
from yiwang.web import maps as web_maps
from yiwang.web import views as web_views
from yiwang.web.api_public import router as public_router
from yiwang.web.forms import AdminLoginForm

api.add_router("/", org_router)
api.add_router("/", catalog_router)
api.add_router("/", cases_router)
api.add_router("/", feedback_router)
api.add_router("/", grid_router)
api.add_router("/", command_router)
api.add_router("/", patrol_router)
api.add_router("/", ledger_router)
api.add_router("/", party_router)
api.add_router("/", parking_router)
api.add_router("/", stats_router)
api.add_router("/", records_router)
api.add_router("/", public_router)

# An exception outside any view (a middleware's query): a lost database is 503 there too (core.middleware).
handler500 = "yiwang.core.middleware.server_error"

admin.site.login_form = AdminLoginForm  # throttled like every password check (core.throttle)

urlpatterns = [
    # First: no other prefix overlaps it, and every pattern before it is tried (and fails) on each
    # API call; behind the pages, resolving cost case intake ~2 % of its CPU (bench/intake_profile.py).
    path("api/v1/", api.urls),
    # For load balancers and Prometheus (docs/operations.md): no login, no session, no personal data.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", observability.readyz, name="readyz"),
    path("metrics", observability.metrics_view, name="metrics"),
    path("", web_views.home, name="home"),
    path("admin/", admin.site.urls),
    # Django's set_language redirects any other method to `next`; the site's form only POSTs.
    path("i18n/setlang/", require_POST(set_language), name="set_language"),
    path("care/", web_care.toggle, name="care"),
    path("maps/outlines.json", web_maps.outlines, name="map_outlines"),
    path("checkpoints/", records_views.checkpoint_list, name="checkpoints"),
    path("checkpoints/<int:number>.json", records_views.checkpoint_file, name="checkpoint_file"),
    path("receipts/check/", records_views.receipt_check, name="receipt_check"),
    path("dashboard/", include("yiwang.stats.urls")),
    path("grid/", include("yiwang.grid.urls")),
    path("command/", include("yiwang.command.urls")),
    path("patrol/", include("yiwang.patrol.urls")),
    path("ledger/", include("yiwang.ledger.urls")),
    path("party/", include("yiwang.party.urls")),
    path("parking/", include("yiwang.parking.urls")),
    path("open311/v2/", include("yiwang.open311.urls")),
    path("", include("yiwang.web.urls")),
]
if settings.OIDC_RP_CLIENT_ID:
    # 统一身份认证 (yiwang.org.oidc): mounted only when configured, so the login page offers it only then.
    urlpatterns.insert(-1, path("oidc/", include("yiwang.org.oidc")))
