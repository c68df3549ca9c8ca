from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from klantreis.customers.models import Customer, Home


class VeraCode(models.Model):
    """An entry of the VERA reference data (Aedes), loaded by `load_vera`."""

    class Kind(models.TextChoices):
        DEFECT_TYPE = "DEFECTSOORT", _("defect type")
        DEFECT_LOCATION = "DEFECTLOCATIE", _("defect location")
        SPECIALISM = "ONDERHOUDSPECIALISME", _("trade specialism")

    kind = models.CharField(_("list"), max_length=32, choices=Kind.choices)
    code = models.CharField(_("code"), max_length=8)
    name = models.CharField(_("name (Dutch, from VERA)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = _("VERA code")
        verbose_name_plural = _("VERA codes")
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="vera_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"

    @property
    def label(self) -> str:
        if translation.get_language() == "en" and self.name_en:
            return self.name_en
        return self.name


class TriageTree(models.Model):
    """Questions for one kind of problem; the answers decide urgency,
    specialism, duration and material. `definition` is validated by
    `intake.triage.tree_validate` (see docs/triage.md for the format)."""

    slug = models.SlugField(_("key"), unique=True)
    title_nl = models.CharField(_("title (Dutch)"), max_length=120)
    title_en = models.CharField(_("title (English)"), max_length=120)
    hint_nl = models.CharField(_("hint (Dutch)"), max_length=200, blank=True)
    hint_en = models.CharField(_("hint (English)"), max_length=200, blank=True)
    defect_type = models.ForeignKey(
        VeraCode,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": VeraCode.Kind.DEFECT_TYPE},
        verbose_name=_("defect type"),
    )
    definition = models.JSONField(_("questions"))
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("triage tree")
        verbose_name_plural = _("triage trees")

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        return self.title_en if translation.get_language() == "en" else self.title_nl

    @property
    def hint(self) -> str:
        return self.hint_en if translation.get_language() == "en" else self.hint_nl


class RepairRequest(models.Model):
    """A repair request (melding)."""

    class Urgency(models.TextChoices):
        EMERGENCY = "emergency", _("emergency")
        URGENT = "urgent", _("urgent")
        NORMAL = "normal", _("normal")

    class Status(models.TextChoices):
        # After VERA ONDERHOUDSVERZOEKSTATUS: REG, INB, TEC, AFG, GEA.
        REGISTERED = "registered", _("registered")
        IN_PROGRESS = "in_progress", _("in progress")
        TECHNICALLY_DONE = "technically_done", _("work done")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")

    class Channel(models.TextChoices):
        PORTAL = "portal", _("portal")
        PHONE = "phone", _("phone")
        API = "api", _("API")

    reference = models.CharField(_("reference"), max_length=16, unique=True)
    home = models.ForeignKey(Home, on_delete=models.PROTECT, related_name="repair_requests")
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="repair_requests", verbose_name=_("reporter")
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("entered by")
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    reported_at = models.DateTimeField(_("reported at"))
    description = models.TextField(_("description"))
    triage_tree = models.ForeignKey(
        TriageTree, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    triage_answers = models.JSONField(_("triage answers"), default=list, blank=True)
    defect_type = models.ForeignKey(
        VeraCode, on_delete=models.PROTECT, related_name="+", verbose_name=_("defect type")
    )
    defect_location = models.ForeignKey(
        VeraCode, on_delete=models.PROTECT, related_name="+", verbose_name=_("defect location")
    )
    specialism = models.ForeignKey(
        VeraCode, on_delete=models.PROTECT, related_name="+", verbose_name=_("required specialism")
    )
    urgency = models.CharField(_("urgency"), max_length=16, choices=Urgency.choices)
    urgency_reason = models.CharField(_("reason for urgency"), max_length=300)
    estimated_minutes = models.PositiveIntegerField(_("estimated duration (minutes)"))
    material = models.JSONField(_("material"), default=list, blank=True)
    agent_notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.REGISTERED)

    class Meta:
        ordering = ["-reported_at", "-pk"]
        verbose_name = _("repair request")
        verbose_name_plural = _("repair requests")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(estimated_minutes__gte=5, estimated_minutes__lte=24 * 60),
                name="request_duration_range",
            ),
            models.CheckConstraint(
                condition=models.Q(urgency__in=["emergency", "urgent", "normal"]),
                name="request_urgency_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def case_id(self) -> str:
        return f"request:{self.reference}"

    @property
    def is_emergency(self) -> bool:
        return self.urgency == self.Urgency.EMERGENCY


class StoredPhoto(models.Model):
    """What is kept of a photo checked by `intake.photos` (subclasses add the
    file with its folder and what the photo belongs to)."""

    content_type = models.CharField(max_length=32)
    size_bytes = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        abstract = True
        ordering = ["uploaded_at", "pk"]


class RequestPhoto(StoredPhoto):
    request = models.ForeignKey(RepairRequest, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to="requests/%Y/%m/")

    class Meta(StoredPhoto.Meta):
        verbose_name = _("photo")
        verbose_name_plural = _("photos")

    def __str__(self) -> str:
        return f"{self.request} photo {self.pk}"
