"""The generated event log of the insights benchmark (`bench/insights.py`).

Two steps, in a database that has been migrated and nothing else:

1. `templates_run`: a handful of repair requests go through the real services
   (report, book, reschedule, on my way, arrive, fixed / not fixed / not home,
   cancel, the journey loop sending every touchpoint, the survey answered)
   under a fixed clock, one per variant and start day. Mail goes to Django's
   in-memory backend, so nothing leaves the machine. Their events, as the
   services wrote them, are the templates.
2. `log_replicate`: the templates' events are copied to many cases with
   `bulk_create`: new case ids and references, moved by whole weeks over a
   year (in local wall-clock time, so a 09:00 visit stays at 09:00 across
   summer time), technicians / firms / homes / defect types drawn from pools
   and rewritten consistently in every attribute that names them. A few
   random perturbations (a touchpoint's message missing, a message sent late,
   a survey not answered) with a fixed seed. Nothing is chosen to help a figure.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# The log's year: 52 weeks from this Monday. The templates run in its first week.
YEAR_START = date(2025, 12, 1)
WEEKS = 52
# Variants and their share of the generated cases (roughly the demo's outcome mix:
# most visits fix it; some tenants are not home, some visits need material).
VARIANTS = {
    "fixed": 50,
    "rescheduled_by_tenant": 12,
    "rescheduled_by_staff": 8,
    "not_home_then_fixed": 8,
    "not_fixed_then_fixed_low_score": 12,
    "cancelled": 10,
}
START_DAYS = (0, 1, 3)  # templates start on Monday, Tuesday and Thursday
TECHNICIANS = 40
DISTRICTS = ("Binnenstad", "Oost", "Noordoost", "Overvecht", "Zuid", "Leidsche Rijn")
HOME_SHARE = 4  # one home per this many cases, so homes report again during the year
ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@dataclass
class Template:
    variant: str
    case_id: str
    reference: str
    request_id: int
    customer_id: int
    customer_user_id: int
    home_id: int
    technician_id: int
    technician_user_id: int
    firm_id: int
    events: list[Any] = field(default_factory=list)  # Event rows, in id order


@dataclass
class World:
    """The reference data the replicas are drawn from."""

    technicians: list[tuple[int, int, int]]  # technician id, user id, firm id
    homes: list[tuple[int, int, int]]  # home id, customer id, customer user id
    defect_types: list[str]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=AMSTERDAM)


# 1. Templates -------------------------------------------------------------------


class _Engine:
    """The clock, and the journey loop as `manage.py run_journeys` runs it."""

    def __init__(self, start: datetime) -> None:
        from klantreis.core.clock import FixedClock

        self.clock = FixedClock(start)

    def run(self) -> None:
        from klantreis.journeys.dispatch import dispatch, touchpoints_run
        from klantreis.journeys.services import events_consume

        while events_consume():
            pass
        dispatch(batch_size=50, run=lambda claim: touchpoints_run(claim=claim))
        events_consume()

    def until(self, moment: datetime) -> None:
        """Let time pass to `moment` as a running `run_journeys` would see it:
        the loop runs now, then at every moment a touchpoint falls due on the
        way (so reminders and surveys go out when they are due, not late)."""
        from django.db.models import Min

        from klantreis.journeys.models import ScheduledTouchpoint

        self.run()
        while True:
            due = ScheduledTouchpoint.objects.filter(
                state=ScheduledTouchpoint.State.SCHEDULED,
                due_at__gt=self.clock.now(),
                due_at__lte=moment,
            ).aggregate(first=Min("due_at"))["first"]
            if due is None:
                break
            self.clock.set(due)
            self.run()
        if self.clock.now() < moment:
            self.clock.set(moment)
            self.run()


def _world_create() -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from klantreis.accounts.models import User
    from klantreis.core.models import Organisation
    from klantreis.intake.models import VeraCode
    from klantreis.intake.services import triage_tree_install_defaults
    from klantreis.journeys.services import definitions_install_defaults
    from klantreis.planning.models import Firm, Technician, WorkingHours

    call_command("load_vera", stdout=open("/dev/null", "w"))  # noqa: SIM115
    triage_tree_install_defaults(overwrite=False)
    definitions_install_defaults()
    Organisation.objects.create(
        name="Woonstichting Bench", emergency_phone="0301234567", service_phone="0307654321",
        time_zone="Europe/Amsterdam",
    )  # fmt: skip
    password = make_password(None)
    staff = {
        role: User.objects.create(username=f"bench-{role}", role=role, password=password, language="nl")
        for role in (User.Role.AGENT, User.Role.PLANNER, User.Role.MANAGER)
    }
    firms = [
        Firm.objects.create(name="Eigen dienst", kind=Firm.Kind.IN_HOUSE),
        Firm.objects.create(name="Loodgieters Utrecht", kind=Firm.Kind.SUBCONTRACTOR),
        Firm.objects.create(name="Installatie Midden", kind=Firm.Kind.SUBCONTRACTOR),
    ]
    specialisms = list(VeraCode.objects.filter(kind=VeraCode.Kind.SPECIALISM))
    technicians = []
    for index in range(TECHNICIANS):
        user = User.objects.create(
            username=f"bench-tech{index}", role=User.Role.TECHNICIAN, password=password, language="nl"
        )
        technician = Technician.objects.create(
            user=user,
            firm=firms[0] if index % 4 else firms[1 + (index // 4) % 2],
            name=f"Monteur {index}",
            region=DISTRICTS[index % len(DISTRICTS)],
            start_latitude=52.09 + (index % 5) * 0.004,
            start_longitude=5.12 + (index % 7) * 0.004,
        )
        technician.specialisms.set(specialisms)
        technicians.append(technician)
    WorkingHours.objects.bulk_create(
        WorkingHours(technician=t, weekday=day, start=time(7, 30), end=time(16))
        for t in technicians
        for day in range(5)
    )
    return {"staff": staff, "technicians": technicians}


def _tenant(index: int) -> Any:
    from klantreis.accounts.models import User
    from klantreis.customers.models import Customer, Home, Tenancy

    user = User.objects.create(username=f"bench-template{index}", role=User.Role.CUSTOMER, language="nl")
    customer = Customer.objects.create(
        user=user, name=f"Huurder {index}", email=f"huurder{index}@example.nl", phone=f"+3161{index:07d}"
    )
    home = Home.objects.create(
        reference=f"VHE-T{index:05d}", street="Oudegracht", house_number=index + 1, postcode="3511AB",
        city="Utrecht", latitude=52.0907 + index * 0.0002, longitude=5.1214,
    )  # fmt: skip
    Tenancy.objects.create(customer=customer, home=home, start_date=date(2020, 1, 1))
    return customer, home


def _normal_walk(definition: dict[str, Any]) -> dict[str, str]:
    """The first answers through the tree that end in a normal-urgency outcome."""

    def walk(key: str, answers: dict[str, str]) -> dict[str, str] | None:
        for answer in definition["questions"][key]["answers"]:
            chosen = {**answers, key: answer["key"]}
            if "outcome" in answer:
                if definition["outcomes"][answer["outcome"]].get("urgency") == "normal":
                    return chosen
            elif (found := walk(answer["next"], chosen)) is not None:
                return found
        return None

    answers = walk(definition["start"], {})
    if answers is None:
        raise SystemExit("the leak tree has no normal-urgency outcome")
    return answers


def _survey_tokens(outbox: list[Any]) -> list[str]:
    """Every survey link sent so far (the repair survey, and the "how was this
    moment?" questions where the journey asks them), in the order sent."""
    tokens = [m.group(1) for mail in outbox for m in re.finditer(r"/survey/([^/\s]+)/", mail.body)]
    if not tokens:
        raise SystemExit("no survey link in the mail")
    return list(dict.fromkeys(tokens))


def _survey_answer(answer: Any, *, token: str, score: int) -> None:
    """Answer as a tenant who gives `score` out of 5, on whatever scales the send asks."""
    from klantreis.core.errors import ApplicationError
    from klantreis.feedback.services import survey_check

    scale = {"csat": score, "moment": score, "nps": {5: 9, 4: 8, 3: 6, 2: 3, 1: 1}[score],
             "ces": {5: 6, 4: 5, 3: 4, 2: 2, 1: 1}[score]}  # fmt: skip
    try:
        questions = survey_check(token=token)
    except ApplicationError:
        return  # closed before the tenant got to it (a "how was this moment?" question expires sooner)
    answer(token=token, scores={q.kind: scale[q.kind] for q in questions}, comment="")


def _template_run(variant: str, day: date, index: int, world: dict[str, Any]) -> Template:
    from django.core import mail

    from klantreis.core.clock import use_clock
    from klantreis.events.models import Event
    from klantreis.feedback.services import survey_answer
    from klantreis.intake.models import RepairRequest, TriageTree
    from klantreis.intake.services import request_create, request_status_change
    from klantreis.planning import services as planning
    from klantreis.planning.models import Job
    from klantreis.planning.plan import slot_offer_list

    staff = world["staff"]
    customer, home = _tenant(index)
    engine = _Engine(local(day, 8, 40))
    tree = TriageTree.objects.get(slug="leak")
    with use_clock(engine.clock):
        mail.outbox = []
        by_phone = variant == "rescheduled_by_staff"
        request = request_create(
            actor=staff["agent"] if by_phone else customer.user,
            customer=customer,
            home=home,
            channel=RepairRequest.Channel.PHONE if by_phone else RepairRequest.Channel.PORTAL,
            tree=tree,
            answers=_normal_walk(tree.definition),
            defect_location_code="BAD",
            description="De kraan in de badkamer druppelt",
        )
        engine.until(engine.clock.now() + timedelta(minutes=25))

        def offer(after: date) -> Any:
            offers = slot_offer_list(request=request, now=engine.clock.now())
            return next(o for o in offers if o.start.astimezone(AMSTERDAM).date() > after)

        def book(after: date, *, actor: Any, channel: str) -> Job:
            slot = offer(after)
            return planning.appointment_book(
                request=request, window_start=slot.start, window_end=slot.end, actor=actor, channel=channel
            )

        def visit(job: Job, outcome: str, **options: Any) -> None:
            job.refresh_from_db()
            technician: Any = job.technician  # booked: never None
            engine.until(cast(datetime, job.visit_start) - timedelta(minutes=25))
            planning.technician_on_the_way(
                job=job, technician=technician, actor=technician.user,
                latitude=technician.start_latitude, longitude=technician.start_longitude,
            )  # fmt: skip
            engine.until(engine.clock.now() + timedelta(minutes=22))
            if outcome != Job.Status.NOT_HOME:
                planning.job_arrive(job=job, technician=technician, actor=technician.user)
                engine.until(engine.clock.now() + timedelta(minutes=50))
            else:
                engine.until(engine.clock.now() + timedelta(minutes=10))
            planning.job_complete(job=job, status=outcome, actor=technician.user, **options)
            engine.run()

        job = book(
            day,
            actor=staff["agent"] if by_phone else customer.user,
            channel="phone" if by_phone else "portal",
        )
        engine.until(engine.clock.now() + timedelta(hours=3))
        if variant in ("rescheduled_by_tenant", "rescheduled_by_staff"):
            job.refresh_from_db()
            later = offer(cast(datetime, job.visit_start).astimezone(AMSTERDAM).date())
            planning.appointment_reschedule(
                job=job, window_start=later.start, window_end=later.end,
                actor=customer.user if variant == "rescheduled_by_tenant" else staff["planner"],
                channel="portal" if variant == "rescheduled_by_tenant" else "phone",
            )  # fmt: skip
            engine.run()
        score = 5
        if variant == "cancelled":
            engine.until(engine.clock.now() + timedelta(hours=1))
            planning.appointment_cancel(
                job=job, actor=customer.user, channel="portal", reason="Zelf opgelost"
            )
            request_status_change(
                request=request, status=RepairRequest.Status.CANCELLED, actor=staff["agent"],
                channel=Event.Channel.PHONE, layer=Event.Layer.HUMAN, note="Huurder heeft het zelf opgelost.",
            )  # fmt: skip
            engine.until(engine.clock.now() + timedelta(hours=4))
        else:
            if variant == "not_home_then_fixed":
                visit(job, Job.Status.NOT_HOME)
                engine.until(engine.clock.now() + timedelta(hours=3))
                job = book(
                    engine.clock.now().astimezone(AMSTERDAM).date(), actor=customer.user, channel="portal"
                )
                engine.run()
                score = 4
            elif variant == "not_fixed_then_fixed_low_score":
                visit(
                    job,
                    Job.Status.NOT_FIXED,
                    note="Onderdeel nodig",
                    not_fixed_reason=Job.NotFixedReason.MATERIAL,
                )
                technician = cast(Any, job.technician)
                job = book(
                    engine.clock.now().astimezone(AMSTERDAM).date(), actor=technician.user, channel="on_site"
                )
                engine.run()
                score = 2
            elif variant == "rescheduled_by_tenant":
                score = 4
            visit(job, Job.Status.FIXED, materials="kraanleertje")
            fixed_at = engine.clock.now()
            engine.until(fixed_at + timedelta(hours=2, minutes=30))
            engine.until(engine.clock.now() + timedelta(hours=1, minutes=15))
            for token in _survey_tokens(mail.outbox):
                _survey_answer(survey_answer, token=token, score=score)
            engine.until(engine.clock.now() + timedelta(hours=1))
            engine.until(fixed_at + timedelta(days=1, hours=2))
            request_status_change(
                request=request, status=RepairRequest.Status.COMPLETED, actor=None,
                channel=Event.Channel.SYSTEM, layer=Event.Layer.DIGITAL, note="Afgemeld na uitvoering.",
            )  # fmt: skip
            engine.until(engine.clock.now() + timedelta(hours=2))
    job.refresh_from_db()
    technician = cast(Any, job.technician)
    return Template(
        variant=variant,
        case_id=request.case_id,
        reference=request.reference,
        request_id=request.pk,
        customer_id=customer.pk,
        customer_user_id=customer.user_id,
        home_id=home.pk,
        technician_id=technician.pk,
        technician_user_id=technician.user_id,
        firm_id=job.firm_id,
        events=list(Event.objects.filter(case_id=request.case_id).order_by("pk")),
    )


def templates_run(*, start_days: tuple[int, ...] = START_DAYS) -> tuple[list[Template], dict[str, Any]]:
    from django.test.utils import override_settings

    world = _world_create()
    templates: list[Template] = []
    with override_settings(MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}):
        for offset in start_days:
            for variant in VARIANTS:
                day = YEAR_START + timedelta(days=offset)
                templates.append(_template_run(variant, day, len(templates), world))
    return templates, world


# 2. Replication -----------------------------------------------------------------


def world_pools(*, cases: int, world: dict[str, Any]) -> World:
    """Homes with their tenants for the replicas (bulk-inserted reference data)."""
    from klantreis.accounts.models import User
    from klantreis.customers.models import Customer, Home, Tenancy
    from klantreis.intake.models import TriageTree

    count = max(cases // HOME_SHARE, 10)
    users = User.objects.bulk_create(
        [User(username=f"bench-h{i}", role=User.Role.CUSTOMER, language="nl") for i in range(count)],
        batch_size=5000,
    )
    customers = Customer.objects.bulk_create(
        [Customer(user=u, name=f"Huurder {i}", email=f"h{i}@example.nl") for i, u in enumerate(users)],
        batch_size=5000,
    )
    homes = Home.objects.bulk_create(
        [
            Home(
                reference=f"VHE-{i:07d}",
                street="Vredenburg",
                house_number=i + 1,
                postcode="3511BA",
                city="Utrecht",
                latitude=52.09 + (i % 100) * 0.0005,
                longitude=5.11 + (i // 100 % 100) * 0.0005,
            )
            for i in range(count)
        ],  # fmt: skip
        batch_size=5000,
    )
    Tenancy.objects.bulk_create(
        [
            Tenancy(customer=c, home=h, start_date=date(2020, 1, 1))
            for c, h in zip(customers, homes, strict=True)
        ],
        batch_size=5000,
    )
    defect_types = sorted(
        set(TriageTree.objects.filter(active=True).values_list("defect_type__code", flat=True)) - {None}
    )
    return World(
        technicians=[(t.pk, t.user_id, t.firm_id) for t in world["technicians"]],
        homes=[(h.pk, c.pk, c.user_id) for h, c in zip(homes, customers, strict=True)],
        defect_types=defect_types,
    )


def _shift(moment: datetime, weeks: int) -> datetime:
    # Aware arithmetic in one zone keeps the wall clock: 09:00 stays 09:00.
    return (moment.astimezone(AMSTERDAM) + timedelta(weeks=weeks)).astimezone(AMSTERDAM)


def _rewrite(value: Any, weeks: int) -> Any:
    if isinstance(value, str) and ISO_MOMENT.match(value):
        try:
            return _shift(datetime.fromisoformat(value), weeks).isoformat()
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _rewrite(v, weeks) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, weeks) for v in value]
    return value


# Attributes that name something the replica draws from a pool.
NAMED = {
    "request": "reference",
    "reference": "reference",
    "customer": "customer",
    "home": "home",
    "technician": "technician",
    "firm": "firm",
    "defect_type": "defect_type",
}


@dataclass
class Mix:
    cases: int = 0
    events: int = 0
    variants: Counter[str] = field(default_factory=Counter)
    perturbations: Counter[str] = field(default_factory=Counter)


def touchpoint_of(attributes: dict[str, Any]) -> str | None:
    """The touchpoint an event belongs to: named, or in a message's source `journey:<key>:<touchpoint>`."""
    if "touchpoint" in attributes:
        return str(attributes["touchpoint"])
    source = str(attributes.get("source", ""))
    return source.split(":")[2] if source.startswith("journey:") and source.count(":") == 2 else None


def _touchpoints(template: Template) -> list[str]:
    """The touchpoints whose message was sent in this template."""
    sent = (touchpoint_of(e.attributes) for e in template.events if e.activity == "message.sent")
    return sorted({t for t in sent if t is not None})


# Attributes holding a row id (job, message, survey, scheduled touchpoint, the
# triggering event): each replica gets its own, so no two cases share a job.
ROW_IDS = ("job", "message", "survey", "scheduled", "trigger", "previous_job")
ROW_ID_BASE = 10**9


def _replica_events(
    template: Template, *, number: int, rng: random.Random, pools: World, mix: Mix
) -> Iterator[Any]:
    from klantreis.events.models import Event

    weeks = rng.randrange(WEEKS)
    technician, technician_user, firm = rng.choice(pools.technicians)
    home, customer, customer_user = rng.choice(pools.homes)
    defect_type = rng.choice(pools.defect_types)
    case_id = f"bench-{number:07d}"
    reference = f"R{number:07d}"
    names: dict[str, dict[Any, Any]] = {
        "reference": {template.reference: reference},
        "customer": {template.customer_id: customer},
        "home": {template.home_id: home},
        "technician": {template.technician_id: technician},
        "firm": {template.firm_id: firm},
    }
    row_ids: dict[tuple[str, int], int] = {}
    users = {template.customer_user_id: customer_user, template.technician_user_id: technician_user}
    # Perturbations, drawn whatever they do to the figures.
    touchpoints = _touchpoints(template)
    missing = late = None
    if touchpoints and rng.random() < 0.03:
        missing = rng.choice(touchpoints)
        mix.perturbations["touchpoint_missing"] += 1
    if touchpoints and rng.random() < 0.05:
        late = rng.choice(touchpoints)
        late_by = timedelta(minutes=rng.randrange(30, 6 * 60))
        mix.perturbations["sent_late"] += 1
    unanswered = template.variant != "not_fixed_then_fixed_low_score" and rng.random() < 0.4
    if unanswered and any(e.activity == "survey.answered" for e in template.events):
        mix.perturbations["survey_not_answered"] += 1
    else:
        unanswered = False
    for event, touchpoint, moved_at, moved in _moved(template, weeks):
        if missing is not None and touchpoint == missing and event.activity.startswith("message."):
            continue
        if unanswered and event.activity == "survey.answered":
            continue
        attributes = dict(moved)
        for key, value in event.attributes.items():
            kind = NAMED.get(key)
            if key in ROW_IDS and isinstance(value, int):
                attributes[key] = row_ids.setdefault((key, value), ROW_ID_BASE + number * 100 + len(row_ids))
            elif key == "key" and isinstance(value, str) and value.startswith("tp-") and value[3:].isdigit():
                scheduled = row_ids.setdefault(
                    ("scheduled", int(value[3:])), ROW_ID_BASE + number * 100 + len(row_ids)
                )
                attributes[key] = f"tp-{scheduled}"
            elif kind == "defect_type":
                attributes[key] = defect_type
            elif kind is not None and value in names[kind]:
                attributes[key] = names[kind][value]
        occurred_at = moved_at
        if late is not None and touchpoint == late and event.activity.startswith("message."):
            occurred_at += late_by
        yield Event(
            case_id=case_id,
            activity=event.activity,
            occurred_at=occurred_at,
            actor_id=users.get(event.actor_id, event.actor_id),
            role=event.role,
            channel=event.channel,
            layer=event.layer,
            attributes=attributes,
        )


def _moved(template: Template, weeks: int) -> list[tuple[Any, str | None, datetime, dict[str, Any]]]:
    """The template's events moved by `weeks` (times only; names are the
    replica's), computed once per template and week."""
    key = (template.case_id, weeks)
    if key not in _MOVED:
        _MOVED[key] = [
            (
                event,
                touchpoint_of(event.attributes),
                _shift(event.occurred_at, weeks),
                {k: _rewrite(v, weeks) for k, v in event.attributes.items()},
            )
            for event in template.events
        ]
    return _MOVED[key]


_MOVED: dict[tuple[str, int], list[tuple[Any, str | None, datetime, dict[str, Any]]]] = {}


def log_replicate(
    *, templates: list[Template], cases: int, seed: int, pools: World, batch: int = 5000
) -> Mix:
    """Write `cases` replicas of the templates' cases (see the module doc)."""
    from django.db import transaction

    from klantreis.events.models import Event

    rng = random.Random(seed)  # noqa: S311 - benchmark data, not secrets
    by_variant: dict[str, list[Template]] = {}
    for template in templates:
        by_variant.setdefault(template.variant, []).append(template)
    variants = list(VARIANTS)
    weights = list(VARIANTS.values())
    mix = Mix()
    pending: list[Any] = []
    for number in range(1, cases + 1):
        variant = rng.choices(variants, weights=weights)[0]
        template = rng.choice(by_variant[variant])
        mix.variants[variant] += 1
        pending.extend(_replica_events(template, number=number, rng=rng, pools=pools, mix=mix))
        if len(pending) >= batch or number == cases:
            with transaction.atomic():
                Event.objects.bulk_create(pending, batch_size=batch)
            mix.events += len(pending)
            pending = []
    mix.cases = cases
    return mix
