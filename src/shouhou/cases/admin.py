"""Read-mostly admin views. Status changes go through the services (API, workbench),
never through the admin, so the admin shows cases but does not edit their lifecycle."""

from django.contrib import admin

from .models import (
    Case,
    CaseLine,
    Evidence,
    RefundInstruction,
    ReturnAddress,
    ShopPolicy,
    TimelineEvent,
)


class CaseLineInline(admin.TabularInline):
    model = CaseLine
    extra = 0
    can_delete = False
    readonly_fields = ("order_line", "quantity", "refund_fen", "type", "is_open")
    exclude = ("shop",)


class TimelineInline(admin.TabularInline):
    model = TimelineEvent
    extra = 0
    can_delete = False
    fields = ("at", "actor_label", "action", "from_status", "to_status", "by_deadline", "message")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "shop",
        "type",
        "reason",
        "status",
        "deadline_at",
        "deadline_action",
        "priority",
        "assignee",
        "refund_fen",
    )
    list_filter = ("shop", "status", "type", "reason", "channel", "priority")
    search_fields = ("number", "external_id", "order__external_id")
    ordering = ("deadline_at",)
    inlines = [CaseLineInline, TimelineInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RefundInstruction)
class RefundInstructionAdmin(admin.ModelAdmin):
    list_display = (
        "reference",
        "shop",
        "case",
        "amount_fen",
        "status",
        "issued_at",
        "confirmed_at",
    )
    list_filter = ("shop", "status")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ShopPolicy)
class ShopPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "shop",
        "version",
        "is_current",
        "after_sales_window_days",
        "finance_approval_limit_fen",
    )
    list_filter = ("shop", "is_current")


@admin.register(ReturnAddress)
class ReturnAddressAdmin(admin.ModelAdmin):
    # Masked like every phone and address; the shop admin edits them on /wb/settings/addresses/.
    list_display = ("label", "shop", "contact_name", "phone_masked", "is_default")
    list_filter = ("shop",)
    exclude = ("phone", "address")
    readonly_fields = ("phone_masked", "address_masked")

    def has_add_permission(self, request):
        return False


@admin.register(Evidence)
class EvidenceAdmin(admin.ModelAdmin):
    list_display = ("case", "original_name", "content_type", "size", "uploaded_by", "created_at")
    list_filter = ("shop",)
