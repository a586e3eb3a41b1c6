"""yiwang's URL conf with 统一身份认证 mounted, as yiwang.urls mounts it when settings name a client.

The test process imports yiwang.urls with OpenID Connect off (no YIWANG_OIDC_CLIENT_ID), so
tests/test_oidc.py points ROOT_URLCONF here while it turns it on.
"""

from django.urls import include, path

from yiwang.urls import urlpatterns

site = [p for p in urlpatterns if str(p.pattern) != "oidc/"]  # mounted already if the environment set a client
urlpatterns = [*site[:-1], path("oidc/", include("yiwang.org.oidc")), site[-1]]
