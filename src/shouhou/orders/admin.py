from django.contrib import admin

from .models import Order, OrderLine, Shipment


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    readonly_fields = ("refunded_fen",)
    exclude = ("shop",)


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0
    exclude = ("shop",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "external_id",
        "shop",
        "customer",
        "status",
        "channel",
        "total_paid_fen",
        "placed_at",
    )
    list_filter = ("shop", "status", "channel")
    search_fields = ("external_id",)
    exclude = ("receiver_name", "receiver_phone", "receiver_address")
    readonly_fields = ("receiver_phone_masked", "receiver_address_masked")
    inlines = [OrderLineInline, ShipmentInline]
    raw_id_fields = ("customer",)

    @admin.display(description="收货电话 phone")
    def receiver_phone_masked(self, obj):
        return obj.receiver_phone_masked

    @admin.display(description="收货地址 address")
    def receiver_address_masked(self, obj):
        return obj.receiver_address_masked
