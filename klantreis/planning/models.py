from datetime import time

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from klantreis.intake.models import RepairRequest, VeraCode


class Firm(models.Model):
    """The organisation's own maintenance service, or a subcontractor (co-maker)."""

    class Kind(models.TextChoices):
        IN_HOUSE = "in_house", _("own service")
        SUBCONTRACTOR = "subcontractor", _("subcontractor")

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="firms", verbose_name=_("office staff")
    )

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("firm")
        verbose_name_plural = _("firms")

    def __str__(self) -> str:
        return self.name


class Technician(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="technician",
    )
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="technicians")
    name = models.CharField(_("name"), max_length=200)
    specialisms = models.ManyToManyField(
        VeraCode,
        related_name="+",
        limit_choices_to={"kind": VeraCode.Kind.SPECIALISM},
        verbose_name=_("specialisms"),
    )
    region = models.CharField(_("region"), max_length=100, blank=True)
    start_latitude = models.FloatField(_("start latitude"))
    start_longitude = models.FloatField(_("start longitude"))
    end_latitude = models.FloatField(
        _("end latitude"), null=True, blank=True, help_text=_("Empty: the day ends where it started.")
    )
    end_longitude = models.FloatField(_("end longitude"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    last_latitude = models.FloatField(_("last known latitude"), null=True, blank=True)
    last_longitude = models.FloatField(_("last known longitude"), null=True, blank=True)
    last_position_at = models.DateTimeField(_("position received at"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("technician")
        verbose_name_plural = _("technicians")

    def __str__(self) -> str:
        return self.name


class WorkingHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    technician = models.ForeignKey(Technician, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))

    class Meta:
        ordering = ["technician", "weekday", "start"]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="hours_ordered"),
            models.UniqueConstraint(fields=["technician", "weekday", "start"], name="hours_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.technician} {self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class Absence(models.Model):
    """Time a technician cannot be planned: leave, illness, training."""

    class Reason(models.TextChoices):
        LEAVE = "leave", _("leave")
        ILLNESS = "illness", _("illness")
        TRAINING = "training", _("training")
        OTHER = "other", _("other")

    technician = models.ForeignKey(Technician, on_delete=models.CASCADE, related_name="absences")
    start = models.DateTimeField(_("from"))
    end = models.DateTimeField(_("until"))
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices, default=Reason.LEAVE)

    class Meta:
        ordering = ["technician", "start"]
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="absence_ordered")
        ]

    def __str__(self) -> str:
        return f"{self.technician} {self.start:%Y-%m-%d} {self.get_reason_display()}"


class PlanningSettings(models.Model):
    """How the organisation plans (one row; `PlanningSettings.current()`)."""

    class TravelSource(models.TextChoices):
        HAVERSINE = "haversine", _("straight-line distance × circuity ÷ speed")
        OSRM = "osrm", _("OSRM road network server")

    slot_minutes = models.PositiveSmallIntegerField(_("time block length (minutes)"), default=120)
    horizon_days = models.PositiveSmallIntegerField(_("days ahead to offer"), default=14)
    first_block_start = models.TimeField(_("first block starts"), default=time(8, 0))
    last_block_end = models.TimeField(_("last block ends"), default=time(17, 0))
    travel_source = models.CharField(
        _("travel times from"), max_length=16, choices=TravelSource.choices, default=TravelSource.HAVERSINE
    )
    circuity_factor = models.FloatField(
        _("circuity factor"), default=1.35, help_text=_("Road distance ÷ straight-line distance.")
    )
    average_speed_kmh = models.FloatField(_("average speed (km/h)"), default=30.0)
    osrm_url = models.URLField(_("OSRM server"), blank=True)
    eta_change_minutes = models.PositiveSmallIntegerField(
        _("tell a new arrival estimate from (minutes)"),
        default=10,
        help_text=_(
            "A changed estimate is passed on to the customer's journey only when it moved this much."
        ),
    )
    change_cutoff = models.TimeField(
        _("customers change appointments until"),
        null=True,
        blank=True,
        default=time(17, 0),
        help_text=_(
            "Local time on the day before the appointment after which customers can no longer move "
            "or cancel it themselves (staff always can). Empty: customers can change until the visit."
        ),
    )

    class Meta:
        verbose_name = _("planning settings")
        verbose_name_plural = _("planning settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(slot_minutes__gte=15, slot_minutes__lte=480), name="settings_slot_length"
            ),
            models.CheckConstraint(
                condition=models.Q(horizon_days__gte=1, horizon_days__lte=90), name="settings_horizon"
            ),
            models.CheckConstraint(
                condition=models.Q(circuity_factor__gte=1.0, circuity_factor__lte=3.0),
                name="settings_circuity",
            ),
            models.CheckConstraint(
                condition=models.Q(average_speed_kmh__gt=0, average_speed_kmh__lte=130), name="settings_speed"
            ),
            models.CheckConstraint(
                condition=models.Q(last_block_end__gt=models.F("first_block_start")),
                name="settings_block_day",
            ),
        ]

    def __str__(self) -> str:
        return str(self._meta.verbose_name)

    @classmethod
    def current(cls) -> "PlanningSettings":
        return PlanningSettings.objects.order_by("pk").first() or PlanningSettings()


class Job(models.Model):
    """The work on a repair request given to a firm, and to one of its technicians."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        FIXED = "fixed", _("fixed")
        NOT_FIXED = "not_fixed", _("not fixed")
        NOT_HOME = "not_home", _("customer not home")
        CANCELLED = "cancelled", _("cancelled")

    class NotFixedReason(models.TextChoices):
        MATERIAL = "material", _("material needed")
        EXPERTISE = "expertise", _("other expertise needed")
        TIME = "time", _("more time needed")

    request = models.ForeignKey(RepairRequest, on_delete=models.PROTECT, related_name="jobs")
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="jobs")
    technician = models.ForeignKey(
        Technician, on_delete=models.PROTECT, null=True, blank=True, related_name="jobs"
    )
    created_at = models.DateTimeField(_("created at"))
    visit_start = models.DateTimeField(_("visit from"), null=True, blank=True)
    visit_end = models.DateTimeField(_("visit until"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True)
    planned_start = models.DateTimeField(
        _("planned arrival"),
        null=True,
        blank=True,
        help_text=_("From the route plan; inside the promised window."),
    )
    route_position = models.PositiveSmallIntegerField(_("position in the route"), null=True, blank=True)
    pinned = models.BooleanField(
        _("pinned"),
        default=False,
        help_text=_("A planner fixed technician and time: re-optimisation keeps them."),
    )
    on_the_way_at = models.DateTimeField(_("on the way since"), null=True, blank=True)
    expected_arrival = models.DateTimeField(_("expected arrival"), null=True, blank=True)
    eta_published = models.DateTimeField(
        _("last arrival estimate told"),
        null=True,
        blank=True,
        help_text=_("The estimate the journey was last told."),
    )
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    outcome_note = models.TextField(_("outcome"), blank=True)
    not_fixed_reason = models.CharField(
        _("why not fixed"), max_length=16, choices=NotFixedReason.choices, blank=True
    )
    materials = models.TextField(_("material used"), blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        # Slot offering and route building read a technician's open jobs by day.
        indexes = [models.Index(fields=["technician", "visit_start"], name="job_technician_day")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(visit_start__isnull=True)
                | models.Q(visit_end__gt=models.F("visit_start")),
                name="job_visit_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request} / {self.firm}"


class DayPlanRun(models.Model):
    """The last re-optimisation of a day and the jobs it saw, so a run asked
    for again while nothing changed returns at once (bookings enqueue one each)."""

    day = models.DateField(_("day"), unique=True)
    fingerprint = models.CharField(max_length=64)
    finished_at = models.DateTimeField(_("finished at"))

    class Meta:
        verbose_name = _("re-optimisation run")
        verbose_name_plural = _("re-optimisation runs")

    def __str__(self) -> str:
        return f"{self.day} {self.finished_at:%H:%M}"
