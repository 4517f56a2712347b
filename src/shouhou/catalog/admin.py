from django.contrib import admin

from .models import Product, Sku, Supplier


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ("name", "shop", "contact")
    list_filter = ("shop",)


class SkuInline(admin.TabularInline):
    model = Sku
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "shop", "supplier", "category", "external_id")
    list_filter = ("shop", "category")
    search_fields = ("name", "external_id")
    inlines = [SkuInline]
