"""/wb/…: the agent desk (queue, cases, warehouse, finance), conversations, shop settings,
arbitration."""

from django.urls import include, path

app_name = "wb"
urlpatterns: list = [
    path("settings/notifications/", include("shouhou.workbench.notify.urls")),
    path("settings/", include("shouhou.workbench.shopadmin.urls")),
    path("arbitration/", include("shouhou.workbench.arbiter.urls")),
    path("conversations/", include("shouhou.workbench.conversations.urls")),
    path("customers/", include("shouhou.workbench.customers.urls")),
    path("", include("shouhou.workbench.desk.urls")),
]
