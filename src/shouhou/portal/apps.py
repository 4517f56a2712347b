from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "shouhou.portal"
    label = "portal"
    verbose_name = "买家门户 Buyer portal"
