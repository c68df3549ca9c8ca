from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from klantreis.insights.models import AnalysisRun, CaseChannel, CaseSummary


class _ReadOnly:
    """Written by the insights' services and tasks only: read here, never changed."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CaseChannelInline(_ReadOnly, admin.TabularInline[CaseChannel, CaseSummary]):
    model = CaseChannel
    extra = 0
    fields = ["channel", "sent", "delivered"]
    readonly_fields = ["channel", "sent", "delivered"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CaseSummary)
class CaseSummaryAdmin(_ReadOnly, admin.ModelAdmin[CaseSummary]):
    list_display = [
        "reference",
        "reported_at",
        "defect_type",
        "technician_id",
        "team",
        "journey_version",
        "visits",
        "first_time_fix",
        "reschedules",
        "cancelled",
        "lead_time_hours",
    ]
    list_filter = ["first_time_fix", "cancelled", "journey_key", "journey_version", "urgency", "team"]
    search_fields = ["case_id", "reference"]
    date_hierarchy = "reported_at"
    inlines = [CaseChannelInline]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A summary deleted here would come back only if the log were folded
        # from the start; the next refresh does not recreate it.
        return False


@admin.register(AnalysisRun)
class AnalysisRunAdmin(_ReadOnly, admin.ModelAdmin[AnalysisRun]):
    list_display = ["created_at", "kind", "status", "progress", "created_by", "finished_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["created_by"]
    exclude = ["params", "result"]
    readonly_fields = ["params_shown", "result_shown"]

    @admin.display(description=_("parameters"))
    def params_shown(self, obj: AnalysisRun) -> str:
        return str(obj.params)

    @admin.display(description=_("result"))
    def result_shown(self, obj: AnalysisRun) -> str:
        return str(obj.result)[:2000]
