from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AnalysisRun(models.Model):
    """A long computation run as a task, with progress for the dashboard."""

    class Kind(models.TextChoices):
        CONFORMANCE = "conformance", _("conformance check")
        EXPORT_XES = "export_xes", _("XES export")
        EXPORT_OCEL = "export_ocel", _("OCEL 2.0 export")
        EXPORT_CSV = "export_csv", _("CSV export")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    # The filters and the journey definition's key/version the run was asked for.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)  # 0..100
    result = models.JSONField(_("result"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to="insights/", blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asked by"),
    )
    created_at = models.DateTimeField(_("asked at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects: ClassVar[models.Manager["AnalysisRun"]]

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("analysis run")
        verbose_name_plural = _("analysis runs")
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="analysisrun_progress_max"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} {self.progress}%"


class InsightsCursor(models.Model):
    """How far `insights_refresh` has folded the event log into the case
    summaries (moved in the same transaction as the summaries it wrote)."""

    name = models.CharField(max_length=40, unique=True)
    position = models.BigIntegerField(default=0)
    # When the refresh first saw a hole in the ids after `position` (an event
    # still being committed on PostgreSQL, or a rolled-back one).
    gap_seen_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager["InsightsCursor"]]

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"


class CaseSummary(models.Model):
    """One repair request's journey folded from the event log: the facts the
    KPIs aggregate (see docs/insights.md "KPIs" for each definition).

    Written only by `insights_refresh`; never edited by hand. Ids of
    technicians, firms and homes are plain integers, not foreign keys: the
    summary is a read model that must not block deleting what it tells of."""

    class Outcome(models.TextChoices):
        NONE = "", _("no visit yet")
        FIXED = "fixed", _("fixed")
        NOT_FIXED = "not_fixed", _("not fixed")
        NOT_HOME = "not_home", _("not home")

    case_id = models.CharField(_("case"), max_length=64, unique=True)
    reference = models.CharField(_("reference"), max_length=20, blank=True)
    reported_at = models.DateTimeField(_("reported at"), db_index=True)
    # The report's date in the organisation's time zone: what the filters'
    # start/end and the month breakdown read.
    reported_on = models.DateField(_("reported on"))
    report_channel = models.CharField(_("reported through"), max_length=16, blank=True)
    status = models.CharField(_("status"), max_length=20, blank=True)
    urgency = models.CharField(_("urgency"), max_length=16, blank=True)
    home_id = models.BigIntegerField(_("home"), null=True, blank=True)
    defect_type = models.CharField(_("defect type"), max_length=20, blank=True)
    technician_id = models.BigIntegerField(_("technician"), null=True, blank=True)
    firm_id = models.BigIntegerField(_("firm"), null=True, blank=True)
    team = models.CharField(_("team"), max_length=100, blank=True)
    journey_key = models.CharField(_("journey"), max_length=40, blank=True)
    journey_version = models.PositiveIntegerField(_("journey version"), null=True, blank=True)

    # Visits (an outcome recorded on site) and the first-time fix.
    visits = models.PositiveIntegerField(_("visits"), default=0)
    visits_fixed = models.PositiveIntegerField(_("visits fixed"), default=0)
    visits_not_fixed = models.PositiveIntegerField(_("visits not fixed"), default=0)
    visits_not_home = models.PositiveIntegerField(_("visits not home"), default=0)
    # The first visit where the technician got in (fixed or not fixed).
    first_outcome = models.CharField(
        _("first visit's outcome"), max_length=10, choices=Outcome.choices, blank=True, default=""
    )
    first_visit_at = models.DateTimeField(_("first visit"), null=True, blank=True)
    visit_times = models.JSONField(_("visit times"), default=list, blank=True)
    # None: no visit got in yet, so the case is not in the rate.
    first_time_fix = models.BooleanField(_("fixed first time"), null=True, blank=True)

    reschedules = models.PositiveIntegerField(_("reschedules"), default=0)
    reschedules_self_service = models.PositiveIntegerField(_("reschedules by the tenant"), default=0)
    cancelled = models.BooleanField(_("cancelled"), default=False)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    lead_time_hours = models.FloatField(_("lead time (hours)"), null=True, blank=True)

    arrivals = models.PositiveIntegerField(_("arrivals with a promised window"), default=0)
    arrivals_on_time = models.PositiveIntegerField(_("arrivals on time"), default=0)
    eta_pending_at = models.DateTimeField(null=True, blank=True)  # last ETA not yet met by an arrival
    eta_measured = models.PositiveIntegerField(_("arrivals with an ETA"), default=0)
    eta_error_minutes = models.FloatField(_("ETA error (minutes, summed)"), default=0.0)

    messages_sent = models.PositiveIntegerField(_("messages sent"), default=0)
    messages_delivered = models.PositiveIntegerField(_("messages delivered"), default=0)
    contacts = models.PositiveIntegerField(_("contacts"), default=0)

    csat = models.PositiveSmallIntegerField(_("CSAT"), null=True, blank=True)
    nps = models.PositiveSmallIntegerField(_("NPS answer"), null=True, blank=True)
    ces = models.PositiveSmallIntegerField(_("CES"), null=True, blank=True)

    last_event_id = models.BigIntegerField(default=0)

    objects: ClassVar[models.Manager["CaseSummary"]]

    class Meta:
        ordering = ["-reported_at", "-id"]
        verbose_name = _("case summary")
        verbose_name_plural = _("case summaries")
        indexes = [
            models.Index(fields=["reported_on"], name="insights_case_on"),
            models.Index(fields=["technician_id", "reported_on"], name="insights_case_tech"),
            models.Index(fields=["firm_id", "reported_on"], name="insights_case_firm"),
            models.Index(fields=["team", "reported_on"], name="insights_case_team"),
            models.Index(fields=["defect_type", "reported_on"], name="insights_case_defect"),
            models.Index(fields=["journey_version", "reported_on"], name="insights_case_version"),
            models.Index(fields=["home_id", "defect_type"], name="insights_case_home"),
        ]

    def __str__(self) -> str:
        return self.reference or self.case_id


class CaseChannel(models.Model):
    """Messages of one case on one channel (sent, and of those delivered)."""

    case = models.ForeignKey(CaseSummary, on_delete=models.CASCADE, related_name="channels")
    channel = models.CharField(_("channel"), max_length=16)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    delivered = models.PositiveIntegerField(_("delivered"), default=0)

    objects: ClassVar[models.Manager["CaseChannel"]]

    class Meta:
        verbose_name = _("messages per channel")
        verbose_name_plural = _("messages per channel")
        constraints = [
            models.UniqueConstraint(fields=["case", "channel"], name="insights_casechannel_unique")
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.channel} {self.delivered}/{self.sent}"
