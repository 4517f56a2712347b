from django.contrib import admin
from django.urls import path, re_path

from .api import api, not_found_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    # After the API's own routes: any other /api/v1/ path is a JSON not_found.
    re_path(r"^api/v1/(?P<path>.*)$", not_found_view),
]
