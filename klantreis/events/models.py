from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImmutableEventError(Exception):
    pass


class EventQuerySet(models.QuerySet["Event"]):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableEventError("journey events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableEventError("journey events are append-only")


class Event(models.Model):
    """One thing that happened in a customer's journey (append-only).

    The log is the history that insights mine and the outbox that the
    journey engine consumes in `id` order, so an event is written in the same
    transaction as the change it describes and never changed afterwards.
    """

    class Layer(models.TextChoices):
        DIGITAL = "digital", _("digital")
        HUMAN = "human", _("human")
        PHYSICAL = "physical", _("physical")

    class Channel(models.TextChoices):
        PORTAL = "portal", _("portal")
        PHONE = "phone", _("phone")
        EMAIL = "email", _("e-mail")
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        API = "api", _("API")
        ON_SITE = "on_site", _("on site")
        SYSTEM = "system", _("system")

    case_id = models.CharField(_("case"), max_length=64, db_index=True)
    activity = models.CharField(_("activity"), max_length=64)
    occurred_at = models.DateTimeField(_("occurred at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    role = models.CharField(_("role"), max_length=16)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    layer = models.CharField(_("layer"), max_length=16, choices=Layer.choices)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("journey event")
        verbose_name_plural = _("journey events")
        indexes = [models.Index(fields=["activity", "occurred_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(layer__in=["digital", "human", "physical"]),
                name="event_layer_valid",
            ),
            models.CheckConstraint(condition=~models.Q(activity=""), name="event_activity_set"),
            models.CheckConstraint(condition=~models.Q(case_id=""), name="event_case_set"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.activity} {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableEventError("journey events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableEventError("journey events are append-only")
