"""Hand-built event logs for the KPI tests, with the attributes the real
services write (intake, planning, messaging, feedback, journeys)."""

from datetime import datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction

from klantreis.events.models import Event
from klantreis.events.services import event_record

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_jobs = count(1000)


def at(day: int, hour: int = 9, minute: int = 0, *, month: int = 3) -> datetime:
    """A moment in Amsterdam in 2026 (the organisation's default zone)."""
    return datetime(2026, month, day, hour, minute, tzinfo=AMSTERDAM)


class Log:
    """One case's events, recorded one by one in their own transaction."""

    def __init__(self, case_id: str, reference: str = "") -> None:
        self.case_id = case_id
        self.reference = reference or f"R-{case_id[-6:]}"
        self.job: int = next(_jobs)

    def record(
        self,
        activity: str,
        when: datetime,
        *,
        channel: str = Event.Channel.SYSTEM,
        layer: str = Event.Layer.DIGITAL,
        role: str = "system",
        attrs: dict[str, Any] | None = None,  # for attributes named as a parameter (channel)
        **attributes: Any,
    ) -> "Log":
        with transaction.atomic():
            event_record(
                case_id=self.case_id,
                activity=activity,
                actor=None,
                role=role,
                channel=channel,
                layer=layer,
                occurred_at=when,
                attributes={"request": self.reference, **(attrs or {}), **attributes},
            )
        return self

    def reported(
        self,
        when: datetime,
        *,
        home: int = 1,
        defect_type: str = "LEK",
        urgency: str = "normal",
        channel: str = Event.Channel.PORTAL,
    ) -> "Log":
        return self.record(
            "request.reported",
            when,
            channel=channel,
            layer=Event.Layer.HUMAN if channel == Event.Channel.PHONE else Event.Layer.DIGITAL,
            role="customer" if channel == Event.Channel.PORTAL else "agent",
            customer=1,
            home=home,
            defect_type=defect_type,
            defect_location="KEU",
            specialism="LOO",
            urgency=urgency,
            estimated_minutes=60,
            triage_tree="leak",
            triage_outcome="normal",
            photos=0,
        )

    def journey(self, when: datetime, *, version: int, key: str = "repair") -> "Log":
        return self.record("journey.started", when, journey=key, version=version, trigger=1)

    def assigned(self, when: datetime, *, technician: int | None, firm: int) -> "Log":
        self.job = next(_jobs)
        return self.record(
            "job.assigned",
            when,
            job=self.job,
            firm=firm,
            firm_kind="subcontractor",
            technician=technician,
            window_start=(when + timedelta(days=1)).isoformat(),
            window_end=(when + timedelta(days=1, hours=4)).isoformat(),
        )

    def status(self, when: datetime, old: str, new: str, *, channel: str = Event.Channel.ON_SITE) -> "Log":
        return self.record(
            "request.status_changed",
            when,
            channel=channel,
            layer=Event.Layer.PHYSICAL,
            role="technician",
            **{"from": old, "to": new, "note": ""},
        )

    def visit(self, outcome: str, when: datetime, *, technician: int | None = None) -> "Log":
        extra = {"reason": "parts"} if outcome == "not_fixed" else {}
        return self.record(
            f"visit.{outcome}",
            when,
            channel=Event.Channel.ON_SITE,
            layer=Event.Layer.PHYSICAL,
            role="technician",
            job=self.job,
            technician=technician,
            note="",
            materials="",
            **extra,
        )

    def arrived(self, when: datetime, *, on_time: bool, technician: int | None = None) -> "Log":
        return self.record(
            "visit.arrived",
            when,
            channel=Event.Channel.ON_SITE,
            layer=Event.Layer.PHYSICAL,
            role="technician",
            job=self.job,
            technician=technician,
            on_time=on_time,
            expected_arrival=None,
        )

    def eta(self, when: datetime, eta: datetime, *, technician: int | None = None) -> "Log":
        return self.record(
            "eta.updated",
            when,
            job=self.job,
            technician=technician,
            eta=eta.isoformat(),
            window_start=None,
            window_end=None,
            late=False,
            previous_eta=None,
        )

    def rescheduled(
        self, when: datetime, *, by_tenant: bool, technician: int = 1, firm: int = 1, channel: str = ""
    ) -> "Log":
        channel = channel or (Event.Channel.PORTAL if by_tenant else Event.Channel.PHONE)
        return self.record(
            "appointment.rescheduled",
            when,
            channel=channel,
            layer=Event.Layer.DIGITAL if channel == Event.Channel.PORTAL else Event.Layer.HUMAN,
            role="customer" if by_tenant else "planner",
            customer=1,
            job=self.job,
            technician=technician,
            firm=firm,
            window_start=when.isoformat(),
            window_end=when.isoformat(),
            previous_technician=technician,
            previous_window_start=when.isoformat(),
            previous_window_end=when.isoformat(),
            planned_start=None,
            self_service=by_tenant,
        )

    def cancelled(self, when: datetime, *, by_tenant: bool) -> "Log":
        channel = Event.Channel.PORTAL if by_tenant else Event.Channel.PHONE
        return self.record(
            "appointment.cancelled",
            when,
            channel=channel,
            layer=Event.Layer.DIGITAL if by_tenant else Event.Layer.HUMAN,
            role="customer" if by_tenant else "agent",
            customer=1,
            job=self.job,
            technician=1,
            window_start=when.isoformat(),
            window_end=when.isoformat(),
            reason="",
            self_service=by_tenant,
        )

    def message(self, when: datetime, channel: str, *, delivered: bool, message: int = 1) -> "Log":
        event_channel = {"inapp": Event.Channel.PORTAL}.get(channel, channel)
        base = {"message": message, "key": f"k{message}", "source": "journey", "channel": channel}
        self.record("message.sent", when, channel=event_channel, attrs=base, attempt=1)
        if delivered:
            self.record("message.delivered", when, channel=event_channel, attrs=base)
        return self

    def survey(self, when: datetime, **scores: int) -> "Log":
        kinds = list(scores)
        return self.record(
            "survey.answered",
            when,
            channel=Event.Channel.PORTAL,
            role="customer",
            survey=1,
            kind=kinds[0],
            score=scores[kinds[0]],
            kinds=kinds,
            comment_given=False,
            touchpoint="",
            **scores,
        )
