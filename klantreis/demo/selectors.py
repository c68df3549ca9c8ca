from dataclasses import dataclass

from django.db.models import QuerySet

from klantreis.core.models import DemoClockOffset, OutboxMail
from klantreis.customers.models import Customer

OUTBOX_PAGE = 50


def outbox_mail_list(*, to: str = "") -> QuerySet[OutboxMail]:
    """The demo's sent mail, newest first; `to` narrows it to one address."""
    mails = OutboxMail.objects.order_by("-sent_at", "-pk")
    if to:
        mails = mails.filter(to__icontains=to)
    return mails


def demo_clock_offset() -> DemoClockOffset:
    return DemoClockOffset.objects.filter(pk=1).first() or DemoClockOffset(pk=1)


@dataclass(frozen=True)
class DemoTenant:
    email: str
    name: str
    language: str
    assisted: bool
    requests: int


def demo_tenant_examples() -> list[DemoTenant]:
    """A few tenants to try the portal as: Dutch, English-speaking and one
    who needs assistance, each with an e-mail address."""
    with_email = Customer.objects.exclude(email="").select_related("user").order_by("pk")
    picks = [
        *with_email.filter(user__language="nl", assisted=False, repair_requests__isnull=False).distinct()[:2],
        *with_email.filter(user__language="en", repair_requests__isnull=False).distinct()[:1],
        *with_email.filter(assisted=True)[:1],
    ]
    return [
        DemoTenant(
            email=c.email,
            name=c.name,
            language=c.user.language,
            assisted=c.assisted,
            requests=c.repair_requests.count(),
        )
        for c in picks
    ]
