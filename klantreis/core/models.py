from datetime import timedelta
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _


class Organisation(models.Model):
    """The service organisation running this klantreis (one per installation)."""

    name = models.CharField(_("name"), max_length=200)
    emergency_phone = models.CharField(
        _("emergency phone number"),
        max_length=32,
        help_text=_("Shown to a customer at once when triage finds an emergency."),
    )
    service_phone = models.CharField(_("service desk phone number"), max_length=32)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Amsterdam")

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> "Organisation":
        organisation = Organisation.objects.order_by("pk").first()
        return organisation or Organisation(name="klantreis", emergency_phone="112", service_phone="")


class DemoClockOffset(models.Model):
    """How far the demo clock runs ahead of real time (demo only)."""

    offset = models.DurationField(default=timedelta)

    objects: ClassVar[models.Manager["DemoClockOffset"]]

    def __str__(self) -> str:
        return str(self.offset)

    @classmethod
    def current(cls) -> timedelta:
        row = cls.objects.filter(pk=1).first()
        return row.offset if row else timedelta()


class OutboxMail(models.Model):
    """A mail the demo would have sent; listed on the demo outbox page."""

    sent_at = models.DateTimeField(_("sent at"))
    from_email = models.CharField(_("from"), max_length=320)
    to = models.TextField(_("to"))
    subject = models.CharField(_("subject"), max_length=998)
    body = models.TextField(_("body"))
    html_body = models.TextField(_("HTML body"), blank=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        verbose_name = _("outbox mail")
        verbose_name_plural = _("outbox mails")

    def __str__(self) -> str:
        return self.subject
