from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "shouhou.customers"
    label = "customers"
    verbose_name = "客户 Customers"
