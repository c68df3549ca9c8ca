from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import ApiToken, SignInLink, User


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Role and language"), {"fields": ("role", "language")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("Role and language"), {"fields": ("role", "language")}),
    )
    list_display = ("username", "email", "first_name", "last_name", "role", "language", "is_staff")
    list_filter = ("role", "language", "is_staff", "is_superuser", "is_active")


class ReadOnlyAdmin[T: Model](admin.ModelAdmin[T]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SignInLink)
class SignInLinkAdmin(ReadOnlyAdmin[SignInLink]):
    """Only a hash of the secret is stored, and even that is not shown."""

    list_display = ["user", "created_at", "expires_at", "used_at"]
    fields = ["user", "created_at", "expires_at", "used_at", "next_url"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin[ApiToken]):
    """The key is shown once when it is made (create_api_token); here only its prefix."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
