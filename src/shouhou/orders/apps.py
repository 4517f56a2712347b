from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "shouhou.orders"
    label = "orders"
    verbose_name = "订单 Orders"
