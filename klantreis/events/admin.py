from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from klantreis.events.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin[Event]):
    """The journey log is append-only: it can be read here, never changed."""

    list_display = ["occurred_at", "case_id", "activity", "actor", "role", "channel", "layer"]
    list_filter = ["layer", "channel", "role", "activity"]
    search_fields = ["case_id", "activity"]
    date_hierarchy = "occurred_at"
    list_select_related = ["actor"]
    ordering = ["-id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
