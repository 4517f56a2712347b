from django.contrib import admin
from django.urls import include, path, re_path

from .api import api, not_found_view
from .core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("login/", core_views.LoginView.as_view(), name="login"),
    path("logout/", core_views.auth_views.LogoutView.as_view(next_page="/login/"), name="logout"),
    path("switch-shop/", core_views.switch_shop, name="switch_shop"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("portal/", include("shouhou.portal.urls")),
    path("help/", include("shouhou.portal.help_urls")),
    path("wb/", include("shouhou.workbench.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    # After the API's own routes: any other /api/v1/ path is a JSON not_found.
    re_path(r"^api/v1/(?P<path>.*)$", not_found_view),
]
