from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from klantreis.planning.models import Firm, Job, Technician, WorkingHours


@admin.register(Firm)
class FirmAdmin(admin.ModelAdmin[Firm]):
    list_display = ["name", "kind"]
    list_filter = ["kind"]
    search_fields = ["name"]
    autocomplete_fields = ["members"]


class WorkingHoursInline(admin.TabularInline[WorkingHours, Technician]):
    model = WorkingHours
    extra = 0


@admin.register(Technician)
class TechnicianAdmin(admin.ModelAdmin[Technician]):
    list_display = ["name", "firm", "region", "active"]
    list_filter = ["active", "firm", "specialisms"]
    search_fields = ["name", "region"]
    list_select_related = ["firm"]
    autocomplete_fields = ["user", "firm"]
    filter_horizontal = ["specialisms"]
    inlines = [WorkingHoursInline]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    """Read-only: jobs are created and completed through the planning
    services, which record the journey events an admin edit would skip."""

    list_display = ["request", "firm", "technician", "status", "visit_start", "created_at"]
    list_filter = ["status", "firm"]
    search_fields = ["request__reference", "technician__name"]
    list_select_related = ["request", "firm", "technician"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
