from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "shouhou.notify"
    label = "notify"
    verbose_name = "通知 notifications"
