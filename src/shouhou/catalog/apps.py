from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "shouhou.catalog"
    label = "catalog"
    verbose_name = "商品 Catalog"
