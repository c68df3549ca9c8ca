from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from klantreis.journeys.models import (
    JourneyDefinition,
    JourneyInstance,
    JourneySettings,
    ScheduledTouchpoint,
    StaffTask,
)


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows the journey runtime writes: visible, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(JourneyDefinition)
class JourneyDefinitionAdmin(ReadOnlyAdmin):
    list_display = ["key", "version", "active", "created_at", "created_by", "note"]
    list_filter = ["key", "active"]


@admin.register(JourneyInstance)
class JourneyInstanceAdmin(ReadOnlyAdmin):
    list_display = ["case_id", "key", "definition", "state", "started_at", "ended_at"]
    list_filter = ["key", "state"]
    search_fields = ["case_id"]


@admin.register(ScheduledTouchpoint)
class ScheduledTouchpointAdmin(ReadOnlyAdmin):
    list_display = ["instance", "touchpoint", "due_at", "state", "outcome", "attempts"]
    list_filter = ["state", "touchpoint"]
    search_fields = ["instance__case_id"]
    list_select_related = ["instance"]


@admin.register(StaffTask)
class StaffTaskAdmin(ReadOnlyAdmin):
    list_display = ["case_id", "queue", "title_en", "deadline", "state", "done_by"]
    list_filter = ["queue", "state"]
    search_fields = ["case_id"]


@admin.register(JourneySettings)
class JourneySettingsAdmin(admin.ModelAdmin[JourneySettings]):
    list_display = ["quiet_start", "quiet_end", "emergencies_exempt", "cap_messages", "cap_hours"]
