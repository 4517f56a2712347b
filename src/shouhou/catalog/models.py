"""Products, SKUs and the suppliers behind them (for the quality loop in analytics)."""

from __future__ import annotations

from django.db import models

from shouhou.core.models import Shop


class Supplier(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="suppliers")
    name = models.CharField("供应商名称 name", max_length=120)
    contact = models.CharField("联系人 contact", max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "供应商 supplier"
        verbose_name_plural = "供应商 suppliers"
        constraints = [models.UniqueConstraint(fields=["shop", "name"], name="supplier_shop_name")]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="products")
    supplier = models.ForeignKey(
        Supplier, on_delete=models.SET_NULL, null=True, blank=True, related_name="products"
    )
    external_id = models.CharField("外部商品ID external id", max_length=64)
    name = models.CharField("商品名称 name", max_length=200)
    category = models.CharField("类目 category", max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "商品 product"
        verbose_name_plural = "商品 products"
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="product_shop_external")
        ]

    def __str__(self) -> str:
        return self.name


class Sku(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="skus")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    code = models.CharField("SKU 编码 code", max_length=64)
    spec = models.CharField("规格 spec", max_length=120, blank=True)
    price_fen = models.PositiveBigIntegerField("售价(分) price")

    class Meta:
        verbose_name = "SKU"
        verbose_name_plural = "SKU"
        constraints = [models.UniqueConstraint(fields=["shop", "code"], name="sku_shop_code")]

    def __str__(self) -> str:
        return f"{self.product.name} {self.spec}".strip()
