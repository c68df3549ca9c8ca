from django.contrib import admin
from django.http import HttpRequest

from klantreis.feedback.models import Survey


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin[Survey]):
    """Answers are the customer's words: staff may look, not edit or add."""

    list_display = ["case_id", "kind", "customer", "touchpoint", "created_at", "answered_at", "score"]
    list_filter = ["kind", "score", "language"]
    search_fields = ["case_id", "key", "customer__name"]
    date_hierarchy = "created_at"
    fields = (
        "kind",
        "position",
        "case_id",
        "customer",
        "touchpoint",
        "topic",
        "language",
        "key",
        "created_at",
        "expires_at",
        "answered_at",
        "score",
        "comment",
    )
    readonly_fields = fields
    list_select_related = ["customer"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Survey | None = None) -> bool:
        return False
