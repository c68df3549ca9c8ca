from django.contrib import admin
from django.http import HttpRequest

from klantreis.core.models import Organisation


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    list_display = ["name", "emergency_phone", "service_phone", "time_zone"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One organisation per installation (see Organisation.current).
        return super().has_add_permission(request) and not Organisation.objects.exists()
