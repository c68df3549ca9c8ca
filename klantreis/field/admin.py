from django.contrib import admin
from django.http import HttpRequest

from klantreis.field.models import FieldUpdate, VisitPhoto


@admin.register(FieldUpdate)
class FieldUpdateAdmin(admin.ModelAdmin[FieldUpdate]):
    """Read-only: which updates arrived from the phones, and when."""

    list_display = ["created_at", "job", "action", "user", "key"]
    list_filter = ["action"]
    search_fields = ["key"]
    readonly_fields = ["key", "job", "action", "user", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: FieldUpdate | None = None) -> bool:
        return False


@admin.register(VisitPhoto)
class VisitPhotoAdmin(admin.ModelAdmin[VisitPhoto]):
    list_display = ["uploaded_at", "job", "content_type", "size_bytes", "uploaded_by"]
    readonly_fields = [
        "job",
        "image",
        "content_type",
        "size_bytes",
        "width",
        "height",
        "uploaded_at",
        "uploaded_by",
    ]
