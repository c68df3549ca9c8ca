from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from klantreis.accounts.models import User
from klantreis.core.errors import ApplicationError
from klantreis.messaging.models import Message
from klantreis.messaging.services import message_retry


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    """Read-only: messages are written by the messaging services. Failed ones
    can be sent again (same idempotency key) with the action."""

    list_display = [
        "created_at",
        "channel",
        "recipient",
        "subject",
        "status",
        "attempts",
        "last_error",
        "source",
    ]
    list_filter = ["status", "channel", "source"]
    search_fields = ["recipient", "subject", "case_id", "idempotency_key", "provider_message_id"]
    date_hierarchy = "created_at"
    list_select_related = ["customer"]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Send the selected failed messages again"), permissions=["view"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        user = request.user
        if not isinstance(user, User) or user.role != User.Role.ADMIN:
            self.message_user(request, _("Only an administrator can send messages again."), messages.ERROR)
            return
        done = 0
        for message in queryset.filter(status=Message.Status.FAILED):
            try:
                message_retry(message=message, actor=user)
            except ApplicationError as error:
                self.message_user(request, str(error), messages.WARNING)
            else:
                done += 1
        self.message_user(
            request,
            ngettext("%(count)d message sent again.", "%(count)d messages sent again.", done)
            % {"count": done},
        )
