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
    active = models.BooleanField(_("active"), default=True)

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


class Job(models.Model):
    """The work on a repair request given to a firm, and to one of its technicians."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        FIXED = "fixed", _("fixed")
        NOT_FIXED = "not_fixed", _("not fixed")
        NOT_HOME = "not_home", _("customer not home")
        CANCELLED = "cancelled", _("cancelled")

    request = models.ForeignKey(RepairRequest, on_delete=models.PROTECT, related_name="jobs")
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="jobs")
    technician = models.ForeignKey(
        Technician, on_delete=models.PROTECT, null=True, blank=True, related_name="jobs"
    )
    created_at = models.DateTimeField(_("created at"))
    visit_start = models.DateTimeField(_("visit from"), null=True, blank=True)
    visit_end = models.DateTimeField(_("visit until"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    outcome_note = models.TextField(_("outcome"), blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(visit_start__isnull=True)
                | models.Q(visit_end__gt=models.F("visit_start")),
                name="job_visit_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request} / {self.firm}"
