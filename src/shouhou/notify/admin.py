from django.contrib import admin

from .models import Endpoint, OutboxMessage


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "shop", "channel", "url", "active", "created_at")
    list_filter = ("channel", "active")
    exclude = ("secret",)  # never shown; set through the workbench page


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "shop", "topic", "endpoint", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "topic")
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
