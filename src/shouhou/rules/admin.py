from django.contrib import admin

from .models import AutomationRule


@admin.register(AutomationRule)
class AutomationRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "shop", "template", "event", "enabled", "position")
    list_filter = ("shop", "event", "enabled")
