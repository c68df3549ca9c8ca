from datetime import time
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from klantreis.customers.models import Customer


class JourneyDefinition(models.Model):
    """One version of a journey definition. Versions are never edited: a
    designer's change is saved as the next version and becomes the active
    one; journeys that already started keep the version they started with."""

    key = models.CharField(_("journey"), max_length=40)
    version = models.PositiveIntegerField(_("version"))
    source = models.TextField(_("definition (YAML)"))
    active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(_("saved at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("saved by"),
    )
    note = models.CharField(_("what changed"), max_length=300, blank=True)

    class Meta:
        ordering = ["key", "-version"]
        verbose_name = _("journey definition")
        verbose_name_plural = _("journey definitions")
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="journey_definition_version_unique"),
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(active=True), name="journey_definition_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"


class JourneySettings(models.Model):
    """How journeys treat people: quiet hours, the frequency cap (one row)."""

    quiet_start = models.TimeField(_("quiet hours start"), default=time(21, 0))
    quiet_end = models.TimeField(_("quiet hours end"), default=time(8, 0))
    emergencies_exempt = models.BooleanField(
        _("emergencies ignore quiet hours"),
        default=True,
        help_text=_("Messages about an emergency request are sent at any hour."),
    )
    cap_messages = models.PositiveSmallIntegerField(
        _("at most this many messages"),
        default=4,
        help_text=_("Per customer, within the period below; essential messages do not count against it."),
    )
    cap_hours = models.PositiveSmallIntegerField(_("per this many hours"), default=24)

    objects: ClassVar[models.Manager["JourneySettings"]]

    class Meta:
        verbose_name = _("journey settings")
        verbose_name_plural = _("journey settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(cap_hours__gte=1), name="journey_settings_cap_hours"),
        ]

    def __str__(self) -> str:
        return str(_("journey settings"))

    @classmethod
    def current(cls) -> "JourneySettings":
        return cls.objects.order_by("pk").first() or cls()


class JourneyInstance(models.Model):
    """One case travelling through one journey, pinned to a definition version."""

    class State(models.TextChoices):
        RUNNING = "running", _("running")
        ENDED = "ended", _("ended")

    definition = models.ForeignKey(JourneyDefinition, on_delete=models.PROTECT, related_name="instances")
    key = models.CharField(_("journey"), max_length=40)
    case_id = models.CharField(_("case"), max_length=64)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="journeys"
    )
    attributes = models.JSONField(_("case attributes"), default=dict, blank=True)
    anchors = models.JSONField(_("anchors"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.RUNNING)
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("journey instance")
        verbose_name_plural = _("journey instances")
        constraints = [
            models.UniqueConstraint(fields=["key", "case_id"], name="journey_instance_one_per_case"),
        ]
        indexes = [models.Index(fields=["case_id"])]

    def __str__(self) -> str:
        return f"{self.key} {self.case_id}"


class ScheduledTouchpoint(models.Model):
    """One occurrence of a touchpoint: due at a moment, claimed once, done once."""

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        CLAIMED = "claimed", _("being carried out")
        DONE = "done", _("done")
        SKIPPED = "skipped", _("skipped")
        CANCELLED = "cancelled", _("cancelled")

    instance = models.ForeignKey(JourneyInstance, on_delete=models.CASCADE, related_name="touchpoints")
    touchpoint = models.CharField(_("touchpoint"), max_length=40)
    # The event that armed it: one occurrence per arming event, so replaying
    # the log never schedules a touchpoint twice.
    armed_by = models.BigIntegerField(_("armed by event"))
    due_at = models.DateTimeField(_("due at"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.SCHEDULED)
    urgent = models.BooleanField(_("exempt from quiet hours"), default=False)
    context = models.JSONField(_("context"), default=dict, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        verbose_name = _("scheduled touchpoint")
        verbose_name_plural = _("scheduled touchpoints")
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "touchpoint", "armed_by"], name="scheduled_touchpoint_once_per_event"
            ),
        ]
        indexes = [
            # The dispatcher only ever looks at what is waiting: a partial
            # index keeps that scan small however many rows are done.
            models.Index(
                fields=["due_at"],
                condition=models.Q(state="scheduled"),
                name="touchpoint_due_idx",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(state="claimed"),
                name="touchpoint_claimed_idx",
            ),
            models.Index(fields=["claim"], condition=~models.Q(claim=""), name="touchpoint_claim_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.instance} {self.touchpoint} @ {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def idempotency_key(self) -> str:
        return f"tp-{self.pk}"


class StaffTask(models.Model):
    """A human touchpoint: work for a person in a queue, with a deadline."""

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")

    # Empty for work that no journey touchpoint made (a customer's message to
    # the desk on a case without a running journey).
    instance = models.ForeignKey(
        JourneyInstance, on_delete=models.PROTECT, related_name="staff_tasks", null=True, blank=True
    )
    touchpoint = models.OneToOneField(
        ScheduledTouchpoint, on_delete=models.PROTECT, related_name="staff_task", null=True, blank=True
    )
    queue = models.CharField(_("queue"), max_length=40)
    title_nl = models.CharField(_("title (Dutch)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    case_id = models.CharField(_("case"), max_length=64)
    details = models.JSONField(_("details"), default=dict, blank=True)
    deadline = models.DateTimeField(_("deadline"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(_("created at"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["deadline", "pk"]
        verbose_name = _("staff task")
        verbose_name_plural = _("staff tasks")
        indexes = [models.Index(fields=["queue", "state", "deadline"])]

    def __str__(self) -> str:
        return f"{self.queue}: {self.title_en}"

    def title(self, language: str) -> str:
        return self.title_nl if language == "nl" else self.title_en


class EventCursor(models.Model):
    """How far a consumer has read the event log (moved in the same
    transaction as what it did with the events)."""

    name = models.CharField(max_length=40, unique=True)
    position = models.BigIntegerField(default=0)
    # When the consumer first saw a hole in the ids after `position`: an event
    # still being committed, or a rolled-back one that never will be.
    gap_seen_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager["EventCursor"]]

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"
