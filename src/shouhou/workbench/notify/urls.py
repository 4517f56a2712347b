"""/wb/settings/notifications/…: the shop admin's notification endpoints and dead letters
(names prefixed settings_notify in the wb namespace)."""

from django.urls import path

from . import views

urlpatterns: list = [
    path("", views.index, name="settings_notify"),
    path("new/", views.add, name="settings_notify_add"),
    path("<int:endpoint_id>/", views.edit, name="settings_notify_edit"),
    path("<int:endpoint_id>/active/", views.active, name="settings_notify_active"),
    path("<int:endpoint_id>/delete/", views.delete, name="settings_notify_delete"),
    path("<int:endpoint_id>/rotate/", views.rotate, name="settings_notify_rotate"),
    path("<int:endpoint_id>/test/", views.test, name="settings_notify_test"),
    path("dead/", views.dead, name="settings_notify_dead"),
    path("dead/retry/", views.dead_retry_all, name="settings_notify_dead_retry_all"),
    path("dead/<int:outbox_id>/retry/", views.dead_retry, name="settings_notify_dead_retry"),
]
