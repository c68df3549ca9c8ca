from django.db import models
from django.utils.translation import gettext_lazy as _

from klantreis.customers.models import Customer


class Message(models.Model):
    """One message to one person over one channel.

    The row is written before the provider is called and carries the
    idempotency key the provider sees (e-mail: the Message-ID), so a send
    repeated after a crash can be recognised as the same message. A message
    that is not delivered in time, or fails, hands over to the next channel
    of its policy (a new row: `fallback_of`).
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        INAPP = "inapp", _("portal inbox")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        DELIVERED = "delivered", _("delivered")
        READ = "read", _("read")
        FAILED = "failed", _("failed")

    idempotency_key = models.CharField(_("idempotency key"), max_length=80, unique=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    case_id = models.CharField(_("case"), max_length=64, blank=True)
    source = models.CharField(_("source"), max_length=80, blank=True, help_text=_("What sent it."))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    recipient = models.CharField(_("to"), max_length=320)
    language = models.CharField(_("language"), max_length=8)
    subject = models.CharField(_("subject"), max_length=200)
    text = models.TextField(_("text"))
    html = models.TextField(_("HTML"), blank=True)
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    # Essential messages (confirmations, "on my way") are always sent and do
    # not count against a customer's frequency cap.
    essential = models.BooleanField(_("essential"), default=False)
    # The channels still to try, in order, when this one fails or is not
    # delivered within `fallback_after`.
    fallback_channels = models.JSONField(default=list, blank=True)
    fallback_after = models.DurationField(null=True, blank=True)
    fallback_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="fallback"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    provider_message_id = models.CharField(_("provider's id"), max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # When to check that it was delivered (then hand over to the next channel).
    check_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["customer", "created_at"]),
            models.Index(fields=["case_id"]),
            models.Index(fields=["channel", "provider_message_id"]),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["queued", "sending"]),
                name="message_retry_idx",
            ),
            models.Index(fields=["check_at"], condition=models.Q(status="sent"), name="message_check_idx"),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel} → {self.recipient}: {self.subject}"

    @property
    def message_id_header(self) -> str:
        return f"<{self.idempotency_key}@klantreis>"
