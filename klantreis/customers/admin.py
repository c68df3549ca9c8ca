from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from klantreis.customers.models import Customer, Home, Tenancy


@admin.register(Home)
class HomeAdmin(admin.ModelAdmin[Home]):
    list_display = ["address_line", "postcode", "city", "reference"]
    list_filter = ["city"]
    search_fields = ["reference", "postcode", "street"]
    ordering = ["postcode", "house_number", "house_letter", "house_number_addition"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Home], search_term: str
    ) -> tuple[QuerySet[Home], bool]:
        # Postcodes are stored as "3512AB"; people type "3512 ab".
        compact = search_term.replace(" ", "")
        if len(compact) == 6 and compact[:4].isdigit() and compact[4:].isalpha():
            search_term = compact.upper()
        return super().get_search_results(request, queryset, search_term)


class TenancyInline(admin.TabularInline[Tenancy, Customer]):
    model = Tenancy
    extra = 0
    autocomplete_fields = ["home"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin[Customer]):
    list_display = ["name", "email", "phone", "preferred_channel", "assisted"]
    list_filter = ["preferred_channel", "assisted", "consent_sms", "consent_whatsapp"]
    search_fields = ["name", "email", "phone", "user__username"]
    autocomplete_fields = ["user"]
    inlines = [TenancyInline]
