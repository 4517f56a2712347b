from django.contrib import admin

from .models import ApiKey, AuditLog, Shop, StaffMember


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "platform", "mode", "refund_gateway", "created_at")
    search_fields = ("name", "code")


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name", "shop", "role", "is_active")
    list_filter = ("shop", "role", "is_active")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    # The secret is never stored; only its hash and the public prefix are.
    list_display = ("name", "shop", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")
    list_filter = ("shop",)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("at", "shop", "actor", "action", "target")
    list_filter = ("shop", "action")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
