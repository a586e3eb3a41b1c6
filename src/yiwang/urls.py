from django.contrib import admin
from django.urls import include, path

from yiwang.api import api
from yiwang.cases.api import router as cases_router
from yiwang.catalog.api import router as catalog_router
from yiwang.feedback.api import router as feedback_router
from yiwang.org.api import router as org_router
from yiwang.stats.api import router as stats_router
from yiwang.web import views as web_views

api.add_router("/", org_router)
api.add_router("/", catalog_router)
api.add_router("/", cases_router)
api.add_router("/", feedback_router)
api.add_router("/", stats_router)

urlpatterns = [
    path("", web_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("dashboard/", include("yiwang.stats.urls")),
    path("", include("yiwang.web.urls")),
    path("api/v1/", api.urls),
]
