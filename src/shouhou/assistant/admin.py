from django.contrib import admin

from .models import CannedReply, FaqEntry


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    list_display = ("question", "shop", "category", "is_published", "position", "updated_at")
    list_filter = ("shop", "category", "is_published")
    search_fields = ("question", "answer", "keywords")
    ordering = ("shop", "category", "position", "id")


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ("title", "shop", "is_active", "position", "times_used", "updated_at")
    list_filter = ("shop", "is_active")
    search_fields = ("title", "body")
    ordering = ("shop", "position", "id")
