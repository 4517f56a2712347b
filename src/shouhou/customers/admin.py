from django.contrib import admin

from .models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    # Personal data is shown masked; the encrypted fields are not editable here.
    list_display = ("external_id", "nickname", "shop", "phone_masked", "tier", "blocklisted")
    list_filter = ("shop", "tier", "blocklisted")
    search_fields = ("external_id", "nickname")
    exclude = ("name", "phone", "address", "phone_index")
    readonly_fields = ("phone_masked", "address_masked", "phone_last4")

    @admin.display(description="手机 phone")
    def phone_masked(self, obj):
        return obj.phone_masked

    @admin.display(description="地址 address")
    def address_masked(self, obj):
        return obj.address_masked
