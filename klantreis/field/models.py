from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from klantreis.intake.models import StoredPhoto
from klantreis.planning.models import Job


class FieldUpdate(models.Model):
    """A status update sent from a technician's phone, by the key the form
    carried: a phone that lost its connection sends it again until it gets an
    answer, and the key makes the second time change nothing."""

    class Action(models.TextChoices):
        ON_THE_WAY = "on_the_way", _("on my way")
        ARRIVED = "arrived", _("arrived")
        COMPLETED = "completed", _("completed")
        FOLLOW_UP = "follow_up", _("follow-up booked")

    key = models.UUIDField(_("key"), unique=True)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("received at"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("field update")
        verbose_name_plural = _("field updates")

    def __str__(self) -> str:
        return f"{self.job_id} {self.action} {self.key}"


class VisitPhoto(StoredPhoto):
    """A photo the technician took at the visit (the work, the part needed)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="visit_photos")
    image = models.FileField(upload_to="visits/%Y/%m/")

    class Meta(StoredPhoto.Meta):
        verbose_name = _("visit photo")
        verbose_name_plural = _("visit photos")

    def __str__(self) -> str:
        return f"{self.job_id} {self.image.name}"
