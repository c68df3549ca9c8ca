"""Seeding the demo organisation: a housing association in and around Utrecht.

Reference data (homes, tenants, staff, firms, technicians) is bulk-inserted:
it describes the world, not something that happened in it. The history of
repair requests is different: every report, booking, change, visit, survey
answer and callback goes through the project's own services under a fixed
past clock, with the journeys installed first and the journey engine
running in between (each event followed at its moment, each touchpoint
carried out at its due time). The event log, the messages and the surveys
hold exactly what the product would have written, in the order it happened.

Everything is drawn from `random.Random` streams seeded with `seed`, and all
dates are relative to the clock at the time of seeding: the same seed on the
same clock gives the same organisation.

`data/streets.csv` lists real streets with the 4-digit postcode area they lie
in and an approximate centre; `weight` is the street's relative share of the
homes and `kind` says whether its homes are mostly flats or houses. The
2-letter postcode suffixes and house numbers are made up.
"""

import csv
import heapq
import math
import random
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.db import transaction

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.clock import FixedClock, use_clock
from klantreis.core.errors import ApplicationError
from klantreis.core.models import Organisation
from klantreis.customers.models import Customer, Home, Tenancy
from klantreis.demo import people, texts
from klantreis.events.models import Event
from klantreis.feedback.models import Survey
from klantreis.feedback.services import SCORE_RANGES, survey_answer, survey_issue
from klantreis.intake.models import RepairRequest, TriageTree, VeraCode
from klantreis.intake.services import request_create, request_status_change
from klantreis.journeys.dispatch import dispatch, touchpoints_run
from klantreis.journeys.models import JourneyInstance, ScheduledTouchpoint, StaffTask
from klantreis.journeys.services import definitions_install_defaults, events_consume, staff_task_complete
from klantreis.messaging.models import Message
from klantreis.messaging.services import messages_retry_due, messages_undelivered_hand_over
from klantreis.planning.models import Firm, Job, PlanningSettings, Technician, WorkingHours
from klantreis.planning.plan import slot_offer_list
from klantreis.planning.selectors import BOOKABLE_STATUSES, VISITED_STATUSES
from klantreis.planning.services import (
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    job_arrive,
    job_complete,
    job_create,
    technician_on_the_way,
)

STREETS_CSV = Path(__file__).resolve().parent / "data" / "streets.csv"

# Letters used in Dutch postcode suffixes (F, I, O, Q, U and Y are not), and
# the combinations PostNL leaves out.
POSTCODE_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
POSTCODE_SUFFIXES = tuple(
    a + b for a in POSTCODE_LETTERS for b in POSTCODE_LETTERS if a + b not in {"SA", "SD", "SS"}
)
METRES_PER_DEGREE_LATITUDE = 111_320.0

# Visit windows the planners offer (local time), and how visits end.
VISIT_SLOTS = ((time(8, 0), time(10, 0)), (time(10, 0), time(12, 0)), (time(12, 30), time(14, 30)),
               (time(14, 0), time(16, 0)))  # fmt: skip
# How visits end at the door (cancellations happen before, see CANCEL).
OUTCOME_WEIGHTS = {
    Job.Status.FIXED: 78,
    Job.Status.NOT_FIXED: 10,
    Job.Status.NOT_HOME: 7,
}
# Reports on an average working day. A real association of 2,400 homes gets
# about 9; living each one through the journey engine costs about a second on
# a busy 2-core machine, so the demo's year is a quieter one by default.
REPORTS_PER_DAY = 3.0
# events_consume reads the log in batches of this many events.
CONSUME_BATCH = 500
# Share of jobs in a trade that goes to the subcontractor for that trade.
SUBCONTRACTED = {
    people.PLUMBING_FIRM: ({"LOO", "LOA", "ONT", "CVI"}, 0.3),
    people.ELECTRICAL_FIRM: ({"ELE", "ELA"}, 0.35),
}


@dataclass(frozen=True)
class Street:
    street: str
    postcode4: str
    city: str
    district: str
    latitude: float
    longitude: float
    weight: int
    kind: str


def streets_load(path: Path = STREETS_CSV) -> list[Street]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Street(
                street=row["street"],
                postcode4=row["postcode4"],
                city=row["city"],
                district=row["district"],
                latitude=float(row["lat"]),
                longitude=float(row["lon"]),
                weight=int(row["weight"]),
                kind=row["kind"],
            )
            for row in csv.DictReader(handle)
        ]


@dataclass
class SeedSummary:
    homes: int = 0
    customers: int = 0
    customers_by_language: Counter[str] = field(default_factory=Counter)
    assisted: int = 0
    staff: int = 0
    technicians_by_firm: Counter[str] = field(default_factory=Counter)
    requests_by_channel: Counter[str] = field(default_factory=Counter)
    requests_by_urgency: Counter[str] = field(default_factory=Counter)
    requests_by_status: Counter[str] = field(default_factory=Counter)
    jobs_by_status: Counter[str] = field(default_factory=Counter)
    events: int = 0
    journeys: list[str] = field(default_factory=list)
    journey_instances: int = 0
    messages_by_channel: Counter[str] = field(default_factory=Counter)
    surveys_sent: int = 0
    surveys_answered: int = 0
    callbacks: int = 0
    callbacks_done: int = 0

    def lines(self) -> list[str]:
        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{key} {value}" for key, value in sorted(counter.items())) or "none"

        return [
            f"Homes: {self.homes}",
            f"Tenants: {self.customers} ({counts(self.customers_by_language)}; {self.assisted} assisted)",
            f"Staff users: {self.staff}",
            f"Technicians: {counts(self.technicians_by_firm)}",
            f"Requests: {sum(self.requests_by_channel.values())} ({counts(self.requests_by_channel)})",
            f"  by urgency: {counts(self.requests_by_urgency)}",
            f"  by status: {counts(self.requests_by_status)}",
            f"Jobs: {counts(self.jobs_by_status)}",
            f"Journey events: {self.events}",
            f"Journeys: {', '.join(self.journeys) or 'none'} (ran through the history: "
            f"{self.journey_instances} cases; following what happens next)",
            f"Messages: {sum(self.messages_by_channel.values())} ({counts(self.messages_by_channel)})",
            f"Surveys: {self.surveys_answered} of {self.surveys_sent} answered",
            f"Callback tasks: {self.callbacks} ({self.callbacks_done} done)",
        ]


@dataclass
class _Tenant:
    customer: Customer
    home: Home
    district: str


@dataclass
class _Crew:
    technician: Technician
    firm: Firm
    codes: frozenset[str]
    weekdays: frozenset[int]
    start: time
    end: time


def demo_organisation_exists() -> bool:
    return Organisation.objects.filter(name=people.ORGANISATION_NAME).exists()


@transaction.atomic
def demo_organisation_seed(
    *,
    seed: int,
    homes: int,
    history_days: int,
    upcoming: int = 60,
    reports_per_day: float = REPORTS_PER_DAY,
) -> SeedSummary:
    """Create the demo organisation in an empty database (see the module doc).
    `reports_per_day`: the history's reports on an average working day."""
    anchor = clock.now()
    zone = ZoneInfo("Europe/Amsterdam")
    Organisation.objects.create(
        name=people.ORGANISATION_NAME,
        emergency_phone=people.ORGANISATION_EMERGENCY_PHONE,
        service_phone=people.ORGANISATION_SERVICE_PHONE,
        time_zone=str(zone),
    )
    summary = SeedSummary()
    # Hashing once: set_password costs ~1M PBKDF2 rounds per call, and every
    # staff member and technician shares the published demo password.
    password = make_password(people.DEMO_PASSWORD)
    staff = _staff_create(password=password)
    summary.staff = len(staff)
    firms = _firms_create(staff=staff)
    streets = streets_load()
    tenants = _homes_and_tenants_create(
        rng=random.Random(f"{seed}-homes"),  # noqa: S311 - demo data, not secrets
        streets=streets,
        count=homes,
        today=anchor.astimezone(zone).date(),
        zone=zone,
    )
    crews = _technicians_create(
        rng=random.Random(f"{seed}-technicians"),  # noqa: S311
        streets=streets,
        firms=firms,
        password=password,
    )
    # First: the journeys follow the history as it happens, so every case
    # gets its confirmations, reminders, surveys and callbacks on time.
    with use_clock(FixedClock(anchor - timedelta(days=history_days + 1))):
        summary.journeys = [str(definition) for definition in definitions_install_defaults()]
    history = _History(
        rng=random.Random(f"{seed}-history"),  # noqa: S311
        anchor=anchor,
        zone=zone,
        tenants=tenants,
        crews=crews,
        firms=firms,
        agent=staff["agent"],
        planner=staff["planner"],
        reports_per_day=reports_per_day,
    )
    history.run(days=history_days)
    history.book_upcoming(new_reports=upcoming)

    summary.homes = len(tenants)
    summary.customers = len(tenants)
    summary.customers_by_language = Counter(t.customer.user.language for t in tenants)
    summary.assisted = sum(t.customer.assisted for t in tenants)
    summary.technicians_by_firm = Counter(c.firm.name for c in crews)
    requests = RepairRequest.objects.all()
    summary.requests_by_channel = Counter(requests.values_list("channel", flat=True))
    summary.requests_by_urgency = Counter(requests.values_list("urgency", flat=True))
    summary.requests_by_status = Counter(requests.values_list("status", flat=True))
    summary.jobs_by_status = Counter(Job.objects.values_list("status", flat=True))
    summary.events = Event.objects.count()
    summary.journey_instances = JourneyInstance.objects.count()
    summary.messages_by_channel = Counter(Message.objects.values_list("channel", flat=True))
    summary.surveys_sent = Survey.objects.values("key").distinct().count()
    summary.surveys_answered = (
        Survey.objects.filter(answered_at__isnull=False).values("key").distinct().count()
    )
    callbacks = StaffTask.objects.filter(queue="callbacks")
    summary.callbacks = callbacks.count()
    summary.callbacks_done = callbacks.filter(state=StaffTask.State.DONE).count()
    return summary


def _staff_create(*, password: str) -> dict[str, User]:
    users = {}
    for member in people.STAFF:
        user = User.objects.create(
            username=member.username,
            first_name=member.first_name,
            last_name=member.last_name,
            email=f"{member.username}@domstad.example.nl",
            role=member.role,
            password=password,
            is_staff=member.role in {User.Role.DESIGNER, User.Role.ADMIN},
            is_superuser=member.is_superuser,
        )
        users[member.username] = user
    users["designer"].user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="intake", codename__in=["view_triagetree", "change_triagetree"]
        )
    )
    return users


def _firms_create(*, staff: Mapping[str, User]) -> dict[str, Firm]:
    firms = {people.IN_HOUSE_FIRM: Firm.objects.create(name=people.IN_HOUSE_FIRM, kind=Firm.Kind.IN_HOUSE)}
    for name in (people.PLUMBING_FIRM, people.ELECTRICAL_FIRM):
        firms[name] = Firm.objects.create(name=name, kind=Firm.Kind.SUBCONTRACTOR)
    for username, firm_name in people.SUBCONTRACTOR_OFFICE.items():
        firms[firm_name].members.add(staff[username])
    return firms


def _share(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainders first)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


@dataclass(frozen=True)
class _Address:
    number: int
    letter: str
    addition: str
    position: float  # where along the street, 0..1


def _street_addresses(rng: random.Random, street: Street, count: int) -> list[_Address]:
    """House numbers for `count` homes in one street: houses numbered along
    one or both sides, flats as big blocks with high numbers or as stacked
    homes sharing a number with letters or floor additions."""
    if count == 0:
        return []
    addresses: list[_Address] = []
    if street.kind == "house":
        step = rng.choice((1, 2))
        number = rng.choice((1, 2, 3))
        while len(addresses) < count:
            letter = "A" if rng.random() < 0.04 and addresses else ""
            addresses.append(_Address(number, letter, "", 0.0))
            number += step
    elif count > 60:
        number = rng.randrange(1, 40)
        while len(addresses) < count:
            addresses.append(_Address(number, "", "", 0.0))
            number += rng.choice((1, 1, 1, 2))
    else:
        stacked_letters = rng.random() < 0.5
        floors = rng.choice((2, 3, 4))
        number = rng.randrange(1, 30)
        while len(addresses) < count:
            for floor in range(floors):
                if len(addresses) == count:
                    break
                if stacked_letters:
                    addresses.append(_Address(number, "ABCD"[floor], "", 0.0))
                else:
                    addresses.append(_Address(number, "", str(floor) if floor else "", 0.0))
            number += rng.choice((1, 2))
    first, last = addresses[0].number, addresses[-1].number
    span = max(last - first, 1)
    return [
        _Address(a.number, a.letter, a.addition, (a.number - first) / span if last > first else 0.5)
        for a in addresses
    ]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def _homes_and_tenants_create(
    *, rng: random.Random, streets: list[Street], count: int, today: date, zone: ZoneInfo
) -> list[_Tenant]:
    counts = _share(count, [s.weight for s in streets])
    suffix_cursor: dict[str, int] = {}
    homes: list[Home] = []
    districts: list[str] = []
    for street, street_count in zip(streets, counts, strict=True):
        addresses = _street_addresses(rng, street, street_count)
        if not addresses:
            continue
        # Consecutive suffix ranges per postcode area keep addresses in
        # different streets of one area apart, as real postcodes do.
        cursor = suffix_cursor.get(street.postcode4, rng.randrange(0, 40))
        block = rng.randrange(12, 24)
        bearing = rng.uniform(0, math.pi)
        length = min(max(len({a.number for a in addresses}) * 7.0, 120.0), 700.0)
        metres_per_degree_longitude = METRES_PER_DEGREE_LATITUDE * math.cos(math.radians(street.latitude))
        numbers_seen: dict[int, int] = {}
        for address in addresses:
            index = numbers_seen.setdefault(address.number, len(numbers_seen))
            suffix = POSTCODE_SUFFIXES[(cursor + index // block) % len(POSTCODE_SUFFIXES)]
            along = (address.position - 0.5) * length
            # Odd numbers on one side of the street, even on the other.
            across = (12.0 if address.number % 2 else -12.0) + rng.uniform(-4.0, 4.0)
            north = along * math.cos(bearing) - across * math.sin(bearing)
            east = along * math.sin(bearing) + across * math.cos(bearing)
            homes.append(
                Home(
                    reference=f"VHE-{len(homes) + 1:06d}",
                    street=street.street,
                    house_number=address.number,
                    house_letter=address.letter,
                    house_number_addition=address.addition,
                    postcode=f"{street.postcode4}{suffix}",
                    city=street.city,
                    latitude=round(street.latitude + north / METRES_PER_DEGREE_LATITUDE, 6),
                    longitude=round(street.longitude + east / metres_per_degree_longitude, 6),
                )
            )
            districts.append(street.district)
        suffix_cursor[street.postcode4] = cursor + len(numbers_seen) // block + 2
    Home.objects.bulk_create(homes, batch_size=500)

    users: list[User] = []
    customers: list[Customer] = []
    tenancies: list[Tenancy] = []
    emails: set[str] = set()
    phones: set[str] = set()
    for index, home in enumerate(homes, start=1):
        customer, user, moved_in = _tenant(
            rng, index=index, today=today, zone=zone, emails=emails, phones=phones
        )
        users.append(user)
        customers.append(customer)
        tenancies.append(Tenancy(customer=customer, home=home, start_date=moved_in))
    User.objects.bulk_create(users, batch_size=500)
    for customer in customers:
        customer.user_id = customer.user.pk
    Customer.objects.bulk_create(customers, batch_size=500)
    for tenancy in tenancies:
        tenancy.customer_id = tenancy.customer.pk
    Tenancy.objects.bulk_create(tenancies, batch_size=500)
    return [
        _Tenant(customer=c, home=h, district=d) for c, h, d in zip(customers, homes, districts, strict=True)
    ]


def _tenant(
    rng: random.Random, *, index: int, today: date, zone: ZoneInfo, emails: set[str], phones: set[str]
) -> tuple[Customer, User, date]:
    expat = rng.random() < 0.10
    assisted = not expat and rng.random() < 0.09
    if expat:
        first, last = rng.choice(people.FIRST_NAMES_EN), rng.choice(people.LAST_NAMES_EN)
        birth_year = rng.randrange(1970, 2001)
    else:
        first, last = rng.choice(people.FIRST_NAMES_NL), rng.choice(people.LAST_NAMES_NL)
        birth_year = rng.randrange(1932, 1959) if assisted else rng.randrange(1940, 2005)

    email = ""
    if rng.random() < (0.35 if assisted else 0.93):
        local = f"{_slug(first)}.{_slug(last)}"
        candidate, n = local, 1
        while candidate in emails:
            n += 1
            candidate = f"{local}{n}"
        emails.add(candidate)
        email = f"{candidate}@{'example.com' if expat else 'example.nl'}"

    mobile = not assisted or rng.random() < 0.5
    while True:
        phone = f"+316{rng.randrange(10_000_000, 100_000_000)}" if mobile else (
            f"+3130{rng.randrange(2_000_000, 9_000_000)}"
        )  # fmt: skip
        if phone not in phones:
            phones.add(phone)
            break

    channel = Customer.Channel
    if assisted:
        preferred = rng.choices(
            [channel.PHONE, channel.LETTER, channel.SMS if mobile else channel.PHONE], weights=[60, 25, 15]
        )[0]
    elif not email:
        preferred = rng.choices([channel.SMS, channel.WHATSAPP, channel.PHONE], weights=[50, 20, 30])[0]
    else:
        preferred = rng.choices(
            [channel.EMAIL, channel.WHATSAPP, channel.SMS, channel.PHONE], weights=[45, 25, 20, 10]
        )[0]
    # Moved in as an adult, within the last 30 years and not in the last months.
    adult = max(date(birth_year + 18, 9, 1), today - timedelta(days=30 * 365))
    moved_in = adult + timedelta(days=rng.randrange(max((today - adult).days - 200, 1)))
    consent_at = (
        datetime.combine(moved_in, time(rng.randrange(9, 17), rng.randrange(60)), tzinfo=zone)
        if rng.random() < 0.7
        else None
    )
    user = User(
        username=f"tenant-{index:06d}",
        first_name=first,
        last_name=last,
        email=email,
        role=User.Role.CUSTOMER,
        language=User.Language.ENGLISH if expat else User.Language.DUTCH,
    )
    user.set_unusable_password()
    customer = Customer(
        user=user,
        name=f"{first} {last}",
        email=email,
        phone=phone,
        preferred_channel=preferred,
        consent_email=bool(email) and (preferred == channel.EMAIL or rng.random() < 0.7),
        consent_sms=mobile and (preferred == channel.SMS or rng.random() < 0.35),
        consent_whatsapp=mobile and (preferred == channel.WHATSAPP or rng.random() < 0.15),
        consent_updated_at=consent_at,
        assisted=assisted,
        birth_year=birth_year,
    )
    return customer, user, moved_in


def _technicians_create(
    *, rng: random.Random, streets: list[Street], firms: Mapping[str, Firm], password: str
) -> list[_Crew]:
    specialisms = {c.code: c for c in VeraCode.objects.filter(kind=VeraCode.Kind.SPECIALISM)}
    crews = []
    hours: list[WorkingHours] = []
    for profile in people.TECHNICIANS:
        user = User.objects.create(
            username=profile.username,
            first_name=profile.first_name,
            last_name=profile.last_name,
            email=f"{profile.username}@domstad.example.nl",
            role=User.Role.TECHNICIAN,
            password=password,
        )
        # Technicians start their day from home, somewhere in the region.
        lives = rng.choice(streets)
        technician = Technician.objects.create(
            user=user,
            firm=firms[profile.firm],
            name=f"{profile.first_name} {profile.last_name}",
            region=lives.district,
            start_latitude=round(lives.latitude + rng.uniform(-0.002, 0.002), 6),
            start_longitude=round(lives.longitude + rng.uniform(-0.003, 0.003), 6),
        )
        technician.specialisms.set([specialisms[code] for code in profile.specialisms])
        start, end = time.fromisoformat(profile.start), time.fromisoformat(profile.end)
        hours.extend(
            WorkingHours(technician=technician, weekday=day, start=start, end=end) for day in profile.weekdays
        )
        crews.append(
            _Crew(
                technician=technician,
                firm=firms[profile.firm],
                codes=frozenset(profile.specialisms),
                weekdays=frozenset(profile.weekdays),
                start=start,
                end=end,
            )
        )
    WorkingHours.objects.bulk_create(hours)
    return crews


Action = Callable[[], None]

# How tenants and staff behave around an appointment (shares of bookings).
BOOK_AT_ONCE = 0.75  # portal reporters who choose a time right after reporting
CANCEL = 0.05
RESCHEDULE_BY_TENANT = 0.07
RESCHEDULE_BY_STAFF = 0.02
CANCEL_ENDS_REQUEST = 0.6  # "solved it myself"; the others book again later
BOOKED_ON_SITE = 0.5  # a visit that did not fix it: the follow-up booked at the door
# Share of survey links answered: the survey after the repair, the one-question moments.
ANSWER_SURVEY = 0.4
ANSWER_MOMENT = 0.2


class _History:
    """Lives the past through the product: reports, bookings, changes and
    cancellations, technicians setting off, arriving and finishing, survey
    answers and callbacks, each through its service at the moment it
    happened, in time order.

    The journey engine runs in between as `run_journeys` would: after every
    action the event log is consumed (at the action's moment), and before
    the next one every touchpoint that falls due in between is carried out
    at its own due time, so quiet hours, deferrals, expiry and cancellation
    work as they do live."""

    def __init__(
        self,
        *,
        rng: random.Random,
        anchor: datetime,
        zone: ZoneInfo,
        tenants: list[_Tenant],
        crews: list[_Crew],
        firms: Mapping[str, Firm],
        agent: User,
        planner: User,
        reports_per_day: float,
    ) -> None:
        self.rng = rng
        self.reports_per_day = reports_per_day
        self.anchor = anchor
        self.zone = zone
        self.tenants = tenants
        self.crews = crews
        self.firms = firms
        self.agent = agent
        self.planner = planner
        self.trees = {t.slug: t for t in TriageTree.objects.filter(active=True).select_related("defect_type")}
        self.queue: list[tuple[datetime, int, Action]] = []
        self.sequence = 0
        self.tenant_of = {t.customer.pk: t for t in tenants}
        self.technicians = {c.technician.pk: c.technician for c in crews}
        cutoff = PlanningSettings.current().change_cutoff
        self.cutoff = cutoff
        # Technicians' working days: which days have begun, whose round is
        # under way, and where each technician last was (day, position).
        self.started: set[date] = set()
        self.active: set[tuple[int, date]] = set()
        self.positions: dict[int, tuple[date, float, float]] = {}
        self.emergencies: set[int] = set()
        self.surveys_seen = 0
        self.tasks_seen = 0

    def schedule(self, at: datetime, action: Action) -> None:
        # What would happen after the anchor has not happened yet: those jobs
        # stay open and those requests wait.
        if at < self.anchor:
            self.sequence += 1
            heapq.heappush(self.queue, (at, self.sequence, action))

    def run(self, *, days: int) -> None:
        if not self.trees or not self.tenants:
            return
        today = self.anchor.astimezone(self.zone).date()
        for offset in range(days, -1, -1):
            day = today - timedelta(days=offset)
            self._plan_reports(day)
            self.schedule(self._local(day, 7 * 60), self._morning(day))
        while self.queue:
            # A touchpoint due before the next action goes first: what it
            # sends may make a tenant act before that action (a survey answered).
            due = self._next_due(before=self.queue[0][0])
            if due is not None:
                with use_clock(FixedClock(due)):
                    self.engine_round()
                continue
            at, _, action = heapq.heappop(self.queue)
            with use_clock(FixedClock(at)):
                action()
                self.engine_round()
        self.engine_until(self.anchor)

    # The journey engine ----------------------------------------------------------

    def engine_round(self) -> None:
        """One round of `run_journeys` at the clock's moment, batches carried out inline."""
        while events_consume() >= CONSUME_BATCH:
            pass
        dispatch(batch_size=100, run=lambda claim: touchpoints_run(claim=claim))
        messages_retry_due()
        messages_undelivered_hand_over()
        # What the batches wrote (sent, task created) is followed at once too.
        while events_consume() >= CONSUME_BATCH:
            pass
        self._notice()

    def engine_until(self, moment: datetime) -> None:
        """Carry out every touchpoint due before `moment`, each at its own due
        time (a deferred one comes round again at its new time)."""
        while (due := self._next_due(before=moment)) is not None:
            with use_clock(FixedClock(due)):
                self.engine_round()

    def _next_due(self, *, before: datetime) -> datetime | None:
        return (
            ScheduledTouchpoint.objects.filter(state=ScheduledTouchpoint.State.SCHEDULED, due_at__lt=before)
            .order_by("due_at")
            .values_list("due_at", flat=True)
            .first()
        )

    def _notice(self) -> None:
        """Tenants read what the engine sent them: some answer the survey;
        agents see the callback tasks it made."""
        surveys = list(
            Survey.objects.filter(pk__gt=self.surveys_seen).select_related("customer").order_by("pk")
        )
        sends: dict[str, list[Survey]] = {}
        for survey in surveys:
            sends.setdefault(survey.key, []).append(survey)
            self.surveys_seen = survey.pk
        for questions in sends.values():
            questions.sort(key=lambda q: q.position)
            first = questions[0]
            moment_only = [q.kind for q in questions] == [Survey.Kind.MOMENT]
            if self.rng.random() >= (ANSWER_MOMENT if moment_only else ANSWER_SURVEY):
                continue
            if moment_only or self.rng.random() < 0.6:
                delay = timedelta(minutes=self.rng.randrange(3, 240))
            elif self.rng.random() < 0.75:
                delay = timedelta(hours=self.rng.uniform(4, 30))
            else:
                delay = timedelta(days=self.rng.uniform(1, 5))
            at = self._awake(first.created_at + delay)
            if at < first.expires_at:
                self.schedule(at, self._answer(questions))
        for task in StaffTask.objects.filter(pk__gt=self.tasks_seen).order_by("pk"):
            self.tasks_seen = task.pk
            if task.queue == "callbacks" and task.state == StaffTask.State.OPEN:
                # Mostly within the working day the deadline gives; now and then a day late.
                at = self._office(task.created_at + timedelta(minutes=self.rng.randrange(20, 5 * 60)))
                if self.rng.random() < 0.08:
                    at = self._office(at + timedelta(days=1))
                self.schedule(at, self._callback(task))

    def _answer(self, questions: list[Survey]) -> Action:
        def answer() -> None:
            first = questions[0]
            # The link in the message the tenant received (found again by its send's key).
            token = survey_issue(
                key=first.key,
                kind=[q.kind for q in questions],
                case_id=first.case_id,
                customer=first.customer,
                language=first.language,
                expires_at=first.expires_at,
                touchpoint=first.touchpoint,
                topic=first.topic,
            )
            reference = first.case_id.removeprefix("request:")
            visits = Job.objects.filter(request__reference=reference, status__in=VISITED_STATUSES).count()
            # Fixed at the first visit: mostly glad; a repeat visit costs goodwill.
            mood = self.rng.betavariate(4.5, 1.3) if visits <= 1 else self.rng.betavariate(2.0, 2.0)
            if first.touchpoint == "not_fixed":
                mood *= 0.75
            scores = {q.kind: self._score(q.kind, mood) for q in questions}
            comment = ""
            if Survey.Kind.MOMENT not in scores and self.rng.random() < 0.3:
                pool = texts.SURVEY_COMMENTS["good" if mood >= 0.5 else "bad"]
                comment = self.rng.choice(pool.get(first.language) or pool["nl"])
            survey_answer(token=token, scores=scores, comment=comment)

        return answer

    def _score(self, kind: str, mood: float) -> int:
        low, high = SCORE_RANGES[kind]
        value = low + mood * (high - low) + self.rng.gauss(0, (high - low) * 0.08)
        return min(high, max(low, round(value)))

    def _callback(self, task: StaffTask) -> Action:
        def callback() -> None:
            staff_task_complete(task=task, actor=self.agent, note=self.rng.choice(texts.CALLBACK_NOTES))

        return callback

    # Reports -----------------------------------------------------------------

    def _plan_reports(self, day: date) -> None:
        working_day = day.weekday() < 5
        # Around `reports_per_day` on a working day, a sixth of that on a weekend day.
        mean = self.reports_per_day if working_day else self.reports_per_day / 6
        count = int(mean * self.rng.uniform(0.6, 1.4) + self.rng.random())
        for _ in range(count):
            tenant = self.rng.choice(self.tenants)
            # Tenants who need help phone; on weekends only the portal is open.
            phones = working_day and self.rng.random() < (0.85 if tenant.customer.assisted else 0.35)
            if not working_day and tenant.customer.assisted:
                continue
            if phones:
                moment = self._local(day, self.rng.randrange(8 * 60, 17 * 60))
            else:
                moment = self._local(day, self.rng.randrange(7 * 60, 23 * 60))
            slug = self._pick_tree()
            answers, outcome = self._walk(self.trees[slug].definition)
            self.schedule(moment, self._report(tenant, slug, answers, outcome, phones))

    def _pick_tree(self) -> str:
        slugs = [slug for slug in texts.TREE_WEIGHTS if slug in self.trees]
        slugs += sorted(slug for slug in self.trees if slug not in texts.TREE_WEIGHTS)
        weights = [texts.TREE_WEIGHTS.get(slug, 3) for slug in slugs]
        return self.rng.choices(slugs, weights=weights)[0]

    def _walk(self, definition: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
        """Random answers; emergencies are rare in real life, so most walks
        that end in one are redrawn."""
        for attempt in range(10):
            answers: dict[str, str] = {}
            key = definition["start"]
            while True:
                answer = self.rng.choice(definition["questions"][key]["answers"])
                answers[key] = answer["key"]
                if "outcome" in answer:
                    outcome = definition["outcomes"][answer["outcome"]]
                    break
                key = answer["next"]
            if outcome["urgency"] != RepairRequest.Urgency.EMERGENCY or attempt == 9:
                return answers, outcome
            if self.rng.random() < 0.1:
                return answers, outcome
        raise AssertionError("unreachable")  # pragma: no cover

    def _report(
        self, tenant: _Tenant, slug: str, answers: dict[str, str], outcome: Mapping[str, Any], phones: bool
    ) -> Action:
        language = tenant.customer.user.language
        descriptions = texts.DESCRIPTIONS.get(slug, texts.DESCRIPTIONS["other"])
        description = self.rng.choice(descriptions.get(language) or descriptions["nl"])
        location = self.rng.choice(texts.LOCATIONS.get(slug, texts.DEFAULT_LOCATIONS))
        notes = self.rng.choice(texts.AGENT_NOTES) if phones else ""

        def report() -> None:
            request = request_create(
                actor=self.agent if phones else tenant.customer.user,
                customer=tenant.customer,
                home=tenant.home,
                channel=RepairRequest.Channel.PHONE if phones else RepairRequest.Channel.PORTAL,
                tree=self.trees[slug],
                answers=answers,
                defect_location_code=location,
                description=description,
                agent_notes=notes,
            )
            now = clock.now()
            if request.urgency == RepairRequest.Urgency.EMERGENCY:
                # The emergency line: a planner sends someone within minutes.
                self.schedule(
                    now + timedelta(minutes=self.rng.randrange(5, 20)), self._emergency(request, tenant)
                )
            elif phones:
                # The agent books the visit during the call.
                at = now + timedelta(minutes=self.rng.randrange(2, 7))
                self.schedule(at, self._book(request, tenant, actor=self.agent, channel=Event.Channel.PHONE))
            elif self.rng.random() < BOOK_AT_ONCE:
                at = now + timedelta(minutes=self.rng.randrange(1, 9))
                actor = tenant.customer.user
                self.schedule(at, self._book(request, tenant, actor=actor, channel=Event.Channel.PORTAL))
            else:
                self._book_later(request, tenant, now)

        return report

    # Appointments ----------------------------------------------------------------

    def _book_later(self, request: RepairRequest, tenant: _Tenant, after: datetime) -> None:
        """The tenant chooses a time later: from the link in a message, or by phone."""
        if tenant.customer.assisted or self.rng.random() < 0.25:
            at = self._office(after + timedelta(minutes=self.rng.randrange(60, 24 * 60)))
            self.schedule(at, self._book(request, tenant, actor=self.agent, channel=Event.Channel.PHONE))
        else:
            at = self._awake(after + timedelta(minutes=self.rng.randrange(40, 30 * 60)))
            actor = tenant.customer.user
            self.schedule(at, self._book(request, tenant, actor=actor, channel=Event.Channel.PORTAL))

    def _book(
        self, request: RepairRequest, tenant: _Tenant, *, actor: User, channel: str, attempt: int = 0
    ) -> Action:
        def book() -> None:
            request.refresh_from_db()
            if (
                request.status not in BOOKABLE_STATUSES
                or request.jobs.filter(status=Job.Status.OPEN).exists()
            ):
                return
            now = clock.now()
            offers = slot_offer_list(request=request, now=now)
            if offers:
                best = [offer for offer in offers if offer.best]
                # Many take the suggested time, the others one of the first few.
                offer = best[0] if best and self.rng.random() < 0.45 else self.rng.choice(offers[:6])
                try:
                    job = appointment_book(
                        request=request,
                        window_start=offer.start,
                        window_end=offer.end,
                        actor=actor,
                        channel=channel,
                    )
                except ApplicationError:
                    pass
                else:
                    self._booked(job, request, tenant)
                    return
            if attempt < 3:
                # Nothing free: the service desk tries again later.
                at = self._office(now + timedelta(minutes=self.rng.randrange(3 * 60, 24 * 60)))
                self.schedule(
                    at,
                    self._book(
                        request, tenant, actor=self.agent, channel=Event.Channel.PHONE, attempt=attempt + 1
                    ),
                )
            else:
                self._plan_by_hand(request, tenant)

        return book

    def _plan_by_hand(self, request: RepairRequest, tenant: _Tenant) -> None:
        """No time block fits: a planner squeezes the visit in."""
        crew, firm = self._pick_crew(request.specialism.code, tenant.district, None)
        start, end = self._window(clock.now(), request.urgency, crew)
        job = job_create(
            request=request,
            firm=firm,
            technician=crew.technician if crew else None,
            actor=self.planner,
            visit_start=start,
            visit_end=end,
        )
        self._wake(job)

    def _booked(self, job: Job, request: RepairRequest, tenant: _Tenant) -> None:
        """Now and then the appointment does not stay as booked."""
        self._wake(job)
        if job.visit_start is None:  # pragma: no cover - a booking has a window
            return
        now = clock.now()
        cutoff = self._cutoff(job.visit_start)
        assisted = tenant.customer.assisted
        draw = self.rng.random()
        if draw < CANCEL:
            by_tenant = not assisted and self.rng.random() < 0.6
            latest = cutoff if by_tenant else job.visit_start - timedelta(minutes=30)
            if latest > now + timedelta(minutes=30):
                at = now + (latest - now) * self.rng.uniform(0.1, 0.95)
                self.schedule(at, self._cancel(job, request, tenant, by_tenant=by_tenant))
        elif draw < CANCEL + RESCHEDULE_BY_TENANT:
            by_tenant = not assisted
            latest = cutoff if by_tenant else job.visit_start - timedelta(hours=2)
            if latest > now + timedelta(minutes=30):
                at = now + (latest - now) * self.rng.uniform(0.1, 0.95)
                at = self._awake(at) if by_tenant else self._office(at)
                actor = tenant.customer.user if by_tenant else self.agent
                channel = Event.Channel.PORTAL if by_tenant else Event.Channel.PHONE
                self.schedule(at, self._reschedule(job, request, actor=actor, channel=channel))
        elif draw < CANCEL + RESCHEDULE_BY_TENANT + RESCHEDULE_BY_STAFF:
            # The planner moves it (a technician is ill, a day is too full).
            latest = job.visit_start - timedelta(hours=2)
            if latest > now + timedelta(minutes=30):
                at = self._office(now + (latest - now) * self.rng.uniform(0.1, 0.9))
                self.schedule(
                    at, self._reschedule(job, request, actor=self.planner, channel=Event.Channel.PHONE)
                )

    def _cutoff(self, visit_start: datetime) -> datetime:
        """Until when a tenant may change an appointment themselves."""
        if self.cutoff is None:
            return visit_start
        day_before = visit_start.astimezone(self.zone).date() - timedelta(days=1)
        return datetime.combine(day_before, self.cutoff, tzinfo=self.zone)

    def _reschedule(self, job: Job, request: RepairRequest, *, actor: User, channel: str) -> Action:
        def reschedule() -> None:
            job.refresh_from_db()
            if job.status != Job.Status.OPEN or job.arrived_at is not None or job.on_the_way_at is not None:
                return
            offers = [
                offer
                for offer in slot_offer_list(request=request, now=clock.now(), moving=job)
                if (offer.start, offer.end) != (job.visit_start, job.visit_end)
            ]
            if not offers:
                return
            offer = self.rng.choice(offers[:8])
            try:
                moved = appointment_reschedule(
                    job=job, window_start=offer.start, window_end=offer.end, actor=actor, channel=channel
                )
            except ApplicationError:
                return
            self._wake(moved)

        return reschedule

    def _cancel(self, job: Job, request: RepairRequest, tenant: _Tenant, *, by_tenant: bool) -> Action:
        def cancel() -> None:
            try:
                appointment_cancel(
                    job=job,
                    actor=tenant.customer.user if by_tenant else self.agent,
                    channel=Event.Channel.PORTAL if by_tenant else Event.Channel.PHONE,
                    reason=self.rng.choice(texts.CANCEL_REASONS),
                )
            except ApplicationError:
                return
            if self.rng.random() < CANCEL_ENDS_REQUEST:
                request_status_change(
                    request=request,
                    status=RepairRequest.Status.CANCELLED,
                    actor=self.agent,
                    channel=Event.Channel.PHONE,
                    layer=Event.Layer.HUMAN,
                    note="Huurder belde af.",
                )
            else:
                self._book_later(request, tenant, clock.now() + timedelta(days=self.rng.randrange(1, 6)))

        return cancel

    # Technicians' days -----------------------------------------------------------

    def _morning(self, day: date) -> Action:
        """Every technician with visits today starts their round."""

        def morning() -> None:
            self.started.add(day)
            start = self._local(day, 0)
            technicians = sorted(
                set(
                    Job.objects.filter(
                        status=Job.Status.OPEN,
                        technician__isnull=False,
                        arrived_at__isnull=True,
                        visit_start__gte=start,
                        visit_start__lt=start + timedelta(days=1),
                    )
                    .exclude(pk__in=self.emergencies)
                    .values_list("technician_id", flat=True)
                )
            )
            for technician_id in technicians:
                self.active.add((technician_id, day))
                self._next_stop(technician_id, day)

        return morning

    def _wake(self, job: Job) -> None:
        """A visit booked for a day already under way, for a technician whose round ended."""
        if job.technician_id is None or job.visit_start is None or job.pk in self.emergencies:
            return
        day = job.visit_start.astimezone(self.zone).date()
        if day in self.started and (job.technician_id, day) not in self.active:
            self.active.add((job.technician_id, day))
            self._next_stop(job.technician_id, day)

    def _next_stop(self, technician_id: int, day: date) -> None:
        """The technician sets off to their next visit of the day, in route order."""
        start = self._local(day, 0)
        job = (
            Job.objects.filter(
                technician_id=technician_id,
                status=Job.Status.OPEN,
                arrived_at__isnull=True,
                visit_start__gte=start,
                visit_start__lt=start + timedelta(days=1),
            )
            .exclude(pk__in=self.emergencies)
            .order_by("route_position", "visit_start", "pk")
            .first()
        )
        if job is None or job.visit_start is None:
            self.active.discard((technician_id, day))
            return
        target = job.planned_start or job.visit_start
        leave = max(
            clock.now() + timedelta(minutes=self.rng.randrange(3, 10)),
            target - timedelta(minutes=self.rng.randrange(10, 30)),
        )
        self.schedule(leave, self._set_off(job.pk, technician_id, day))

    def _set_off(self, job_id: int, technician_id: int, day: date | None) -> Action:
        def set_off() -> None:
            job = Job.objects.get(pk=job_id)
            if (
                job.status != Job.Status.OPEN
                or job.arrived_at is not None
                or job.technician_id != technician_id
                or job.visit_start is None
                or (day is not None and job.visit_start.astimezone(self.zone).date() != day)
            ):
                # Moved or cancelled in the meantime: on to the next one.
                if day is not None:
                    self._next_stop(technician_id, day)
                return
            technician = self.technicians[technician_id]
            now = clock.now()
            today = now.astimezone(self.zone).date()
            last = self.positions.get(technician_id)
            latitude, longitude = (
                (last[1], last[2])
                if last is not None and last[0] == today
                else (technician.start_latitude, technician.start_longitude)
            )
            job = technician_on_the_way(
                job=job, technician=technician, actor=technician.user, latitude=latitude, longitude=longitude
            )
            eta = job.expected_arrival or now + timedelta(minutes=20)
            # Mostly as estimated; now and then traffic or a search for parking.
            delay = self.rng.gauss(1.5, 5.0)
            if self.rng.random() < 0.07:
                delay += self.rng.uniform(12, 40)
            arrive_at = max(now + timedelta(minutes=2), eta + timedelta(minutes=delay))
            self.schedule(arrive_at, self._arrive(job_id, technician_id, day))

        return set_off

    def _arrive(self, job_id: int, technician_id: int, day: date | None) -> Action:
        def arrive() -> None:
            job = Job.objects.select_related("request").get(pk=job_id)
            if (
                job.status != Job.Status.OPEN
                or job.technician_id != technician_id
                or job.arrived_at is not None
            ):
                if day is not None:
                    self._next_stop(technician_id, day)
                return
            technician = self.technicians[technician_id]
            job_arrive(job=job, technician=technician, actor=technician.user)
            visit = Job.objects.filter(request_id=job.request_id, status__in=VISITED_STATUSES).count() + 1
            outcome = self.rng.choices(list(OUTCOME_WEIGHTS), weights=list(OUTCOME_WEIGHTS.values()))[0]
            if visit >= 3:
                outcome = Job.Status.FIXED
            now = clock.now()
            if outcome == Job.Status.NOT_HOME:
                done_at = now + timedelta(minutes=self.rng.randrange(3, 11))
            else:
                minutes = job.duration_minutes or job.request.estimated_minutes
                done_at = now + timedelta(minutes=max(10.0, minutes * self.rng.uniform(0.6, 1.5)))
            self.schedule(done_at, self._complete(job_id, technician_id, day, outcome))

        return arrive

    def _complete(self, job_id: int, technician_id: int, day: date | None, outcome: str) -> Action:
        def complete() -> None:
            job = Job.objects.select_related("request__home").get(pk=job_id)
            if job.status != Job.Status.OPEN:  # pragma: no cover - nobody else closes a job under way
                return
            technician = self.technicians[technician_id]
            job_complete(
                job=job,
                status=outcome,
                actor=technician.user,
                note=self.rng.choice(texts.VISIT_NOTES[outcome]),
                not_fixed_reason=(
                    self.rng.choice(Job.NotFixedReason.values) if outcome == Job.Status.NOT_FIXED else ""
                ),
            )
            now = clock.now()
            request = job.request
            home = request.home
            self.positions[technician_id] = (now.astimezone(self.zone).date(), home.latitude, home.longitude)
            tenant = self.tenant_of[request.customer_id]
            if outcome == Job.Status.FIXED:
                # The back office closes the request once the survey has had its week.
                close_at = self._office(now + timedelta(days=8, minutes=self.rng.randrange(0, 3 * 24 * 60)))
                self.schedule(close_at, self._close(request))
            elif outcome == Job.Status.NOT_FIXED and technician.user and self.rng.random() < BOOKED_ON_SITE:
                self._book(request, tenant, actor=technician.user, channel=Event.Channel.ON_SITE)()
            else:
                self._book_later(request, tenant, now)
            if day is not None:
                self._next_stop(technician_id, day)

        return complete

    def _emergency(self, request: RepairRequest, tenant: _Tenant) -> Action:
        def assign() -> None:
            now = clock.now()
            crew, firm = self._pick_crew(request.specialism.code, tenant.district, None)
            start = _round_up(now + timedelta(minutes=self.rng.randrange(20, 75)), minutes=5)
            job = job_create(
                request=request,
                firm=firm,
                technician=crew.technician if crew else None,
                actor=self.planner,
                visit_start=start,
                visit_end=start + timedelta(hours=2),
            )
            self.emergencies.add(job.pk)
            if crew is not None:
                leave = now + timedelta(minutes=self.rng.randrange(3, 12))
                self.schedule(leave, self._set_off(job.pk, crew.technician.pk, None))

        return assign

    def _close(self, request: RepairRequest) -> Action:
        def close() -> None:
            request.refresh_from_db()
            if request.status != RepairRequest.Status.TECHNICALLY_DONE:
                return
            request_status_change(
                request=request,
                status=RepairRequest.Status.COMPLETED,
                actor=None,
                channel=Event.Channel.SYSTEM,
                layer=Event.Layer.DIGITAL,
                note="Afgemeld na uitvoering.",
            )

        return close

    # The coming days -----------------------------------------------------------

    def book_upcoming(self, *, new_reports: int) -> None:
        """Fill the coming days the way the product does: today's reports,
        and the requests still waiting, each booked in the block slot
        offering suggests (the board and the slot offers then show a
        realistic week). The journeys confirm them at once and remind later."""
        if not self.trees or not self.tenants:
            return
        with use_clock(FixedClock(self.anchor)):
            for _ in range(new_reports):
                tenant = self.rng.choice(self.tenants)
                slug = self._pick_tree()
                answers, _outcome = self._walk(self.trees[slug].definition)
                descriptions = texts.DESCRIPTIONS.get(slug, texts.DESCRIPTIONS["other"])
                request_create(
                    actor=tenant.customer.user,
                    customer=tenant.customer,
                    home=tenant.home,
                    channel=RepairRequest.Channel.PORTAL,
                    tree=self.trees[slug],
                    answers=answers,
                    defect_location_code=self.rng.choice(texts.LOCATIONS.get(slug, texts.DEFAULT_LOCATIONS)),
                    description=self.rng.choice(
                        descriptions.get(tenant.customer.user.language) or descriptions["nl"]
                    ),
                )
            waiting = RepairRequest.objects.filter(status=RepairRequest.Status.REGISTERED).exclude(
                urgency=RepairRequest.Urgency.EMERGENCY
            )
            for request in waiting.select_related("home", "specialism").order_by("pk"):
                slots = slot_offer_list(request=request, now=self.anchor)
                best = next((slot for slot in slots if slot.best), None)
                if best is not None:
                    appointment_book(
                        request=request,
                        window_start=best.start,
                        window_end=best.end,
                        actor=request.customer.user,
                        channel="portal",
                    )
            self.engine_round()

    # Planning by hand -----------------------------------------------------------

    def _pick_crew(self, code: str, district: str, previous: Technician | None) -> tuple[_Crew | None, Firm]:
        able = [c for c in self.crews if code in c.codes]
        in_house = [c for c in able if c.firm.kind == Firm.Kind.IN_HOUSE]
        pool = in_house or able
        for firm_name, (codes, share) in SUBCONTRACTED.items():
            subcontracted = [c for c in able if c.firm.name == firm_name]
            if code in codes and subcontracted and self.rng.random() < share:
                pool = subcontracted
        if not pool:
            return None, self.firms[people.IN_HOUSE_FIRM]
        if previous is not None and self.rng.random() < 0.7:
            again = [c for c in pool if c.technician.pk == previous.pk]
            if again:
                return again[0], again[0].firm
        nearby = [c for c in pool if c.technician.region == district]
        crew = self.rng.choice(nearby if nearby and self.rng.random() < 0.6 else pool)
        return crew, crew.firm

    def _window(self, now: datetime, kind: str, crew: _Crew | None) -> tuple[datetime, datetime]:
        """A visit window after `now` on a day the technician works."""
        local = now.astimezone(self.zone)
        if kind == RepairRequest.Urgency.URGENT:
            day = local.date() if local.time() < time(12) else _add_working_days(local.date(), 1)
        else:
            day = _add_working_days(local.date(), self.rng.randint(1, 7))
        weekdays = crew.weekdays if crew else frozenset(range(5))
        slots: list[tuple[time, time]] = []
        for _ in range(21):
            if day.weekday() in weekdays:
                slots = [
                    (start, end)
                    for start, end in VISIT_SLOTS
                    if (crew is None or crew.start <= start and end <= crew.end)
                    and datetime.combine(day, start, tzinfo=self.zone) > now
                ]
                if slots:
                    break
            day += timedelta(days=1)
        start, end = self.rng.choice(slots or [VISIT_SLOTS[0]])
        return (
            datetime.combine(day, start, tzinfo=self.zone),
            datetime.combine(day, end, tzinfo=self.zone),
        )

    # Time helpers ---------------------------------------------------------------

    def _local(self, day: date, minute_of_day: int) -> datetime:
        return datetime.combine(day, time(minute_of_day // 60, minute_of_day % 60), tzinfo=self.zone)

    def _office(self, moment: datetime) -> datetime:
        """`moment` if the planners are at work then, else the next morning they are."""
        local = moment.astimezone(self.zone)
        if local.weekday() < 5 and time(8) <= local.time() < time(17):
            return moment
        day = local.date() if local.time() < time(8) else local.date() + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return self._local(day, 8 * 60 + self.rng.randrange(0, 90))

    def _awake(self, moment: datetime) -> datetime:
        """`moment` if tenants are up then (07:00 to 23:00), else a morning moment."""
        local = moment.astimezone(self.zone)
        if time(7) <= local.time() < time(23):
            return moment
        day = local.date() if local.time() < time(7) else local.date() + timedelta(days=1)
        return self._local(day, 7 * 60 + self.rng.randrange(0, 150))


def _add_working_days(day: date, count: int) -> date:
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def _round_up(moment: datetime, *, minutes: int) -> datetime:
    seconds = minutes * 60
    stamp = moment.timestamp()
    return datetime.fromtimestamp(math.ceil(stamp / seconds) * seconds, tz=moment.tzinfo)
