"""Seeding the demo organisation: a housing association in and around Utrecht.

Reference data (homes, tenants, staff, firms, technicians) is bulk-inserted:
it describes the world, not something that happened in it. The history of
repair requests is different: every report, assignment and visit goes
through the project's own services under a fixed past clock, so the journey
event log holds exactly what the services would have written, in the order
it happened.

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
from klantreis.core.models import Organisation
from klantreis.customers.models import Customer, Home, Tenancy
from klantreis.demo import people, texts
from klantreis.events.models import Event
from klantreis.intake.models import RepairRequest, TriageTree, VeraCode
from klantreis.intake.services import request_create, request_status_change
from klantreis.journeys.services import definitions_install_defaults
from klantreis.planning.models import Firm, Job, Technician, WorkingHours
from klantreis.planning.plan import slot_offer_list
from klantreis.planning.services import appointment_book, job_complete, job_create

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
OUTCOME_WEIGHTS = {
    Job.Status.FIXED: 78,
    Job.Status.NOT_FIXED: 10,
    Job.Status.NOT_HOME: 7,
    Job.Status.CANCELLED: 5,
}
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
            f"Journeys: {', '.join(self.journeys) or 'none'} (following events from now on)",
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
def demo_organisation_seed(*, seed: int, homes: int, history_days: int, upcoming: int = 60) -> SeedSummary:
    """Create the demo organisation in an empty database (see the module doc)."""
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
    history = _History(
        rng=random.Random(f"{seed}-history"),  # noqa: S311
        anchor=anchor,
        zone=zone,
        tenants=tenants,
        crews=crews,
        firms=firms,
        agent=staff["agent"],
        planner=staff["planner"],
    )
    history.run(days=history_days)
    history.book_upcoming(new_reports=upcoming)
    # Only now: installing puts the journey engine's cursor after the last
    # event, so the seeded past (thousands of events) is not replayed as
    # confirmations and reminders; journeys start with what happens next.
    summary.journeys = [str(definition) for definition in definitions_install_defaults()]

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


class _History:
    """Replays the past: reports, assignments, visits and closures, each
    through its service at the moment it happened, in time order."""

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
    ) -> None:
        self.rng = rng
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

    def schedule(self, at: datetime, action: Action) -> None:
        # What would happen after the anchor has not happened yet: those jobs
        # stay open and those requests stay registered.
        if at < self.anchor:
            self.sequence += 1
            heapq.heappush(self.queue, (at, self.sequence, action))

    def run(self, *, days: int) -> None:
        if not self.trees or not self.tenants:
            return
        today = self.anchor.astimezone(self.zone).date()
        for offset in range(days, -1, -1):
            self._plan_reports(today - timedelta(days=offset))
        while self.queue:
            at, _, action = heapq.heappop(self.queue)
            with use_clock(FixedClock(at)):
                action()

    # Reports -----------------------------------------------------------------

    def _plan_reports(self, day: date) -> None:
        working_day = day.weekday() < 5
        count = self.rng.randint(6, 12) if working_day else self.rng.randint(0, 3)
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
            self.schedule(self._assign_moment(request), self._assign(request, tenant, visit=1))

        return report

    # The coming days -----------------------------------------------------------

    def book_upcoming(self, *, new_reports: int) -> None:
        """Fill the coming days the way the product does: today's reports,
        and the requests still waiting, each booked in the block slot
        offering suggests (the board and the slot offers then show a
        realistic week)."""
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

    # Planning and visits -------------------------------------------------------

    def _assign_moment(self, request: RepairRequest) -> datetime:
        reported = request.reported_at
        if request.urgency == RepairRequest.Urgency.EMERGENCY:
            return reported + timedelta(minutes=self.rng.randrange(5, 20))
        if request.urgency == RepairRequest.Urgency.URGENT:
            return self._office(reported + timedelta(minutes=self.rng.randrange(15, 60)))
        return self._office(reported + timedelta(minutes=self.rng.randrange(30, 6 * 60)))

    def _assign(
        self, request: RepairRequest, tenant: _Tenant, *, visit: int, previous: Technician | None = None
    ) -> Action:
        def assign() -> None:
            now = clock.now()
            emergency = visit == 1 and request.urgency == RepairRequest.Urgency.EMERGENCY
            crew, firm = self._pick_crew(request.specialism.code, tenant.district, previous)
            if emergency:
                start = _round_up(now + timedelta(minutes=self.rng.randrange(20, 75)), minutes=5)
                end = start + timedelta(hours=2)
            else:
                start, end = self._window(now, request.urgency if visit == 1 else "follow_up", crew)
            job = job_create(
                request=request,
                firm=firm,
                technician=crew.technician if crew else None,
                actor=self.planner,
                visit_start=start,
                visit_end=end,
            )
            outcome = self.rng.choices(list(OUTCOME_WEIGHTS), weights=list(OUTCOME_WEIGHTS.values()))[0]
            if visit >= 3 and outcome != Job.Status.CANCELLED:
                outcome = Job.Status.FIXED
            if outcome == Job.Status.CANCELLED:
                cancel_at = now + (start - now) * self.rng.uniform(0.2, 0.8)
                self.schedule(cancel_at, self._cancel(job, request))
            else:
                done_at = start + timedelta(minutes=self.rng.randrange(15, 110))
                self.schedule(done_at, self._complete(job, request, tenant, outcome, visit))

        return assign

    def _complete(
        self, job: Job, request: RepairRequest, tenant: _Tenant, outcome: str, visit: int
    ) -> Action:
        def complete() -> None:
            technician = job.technician
            job_complete(
                job=job,
                status=outcome,
                actor=technician.user if technician else None,
                note=self.rng.choice(texts.VISIT_NOTES[outcome]),
            )
            now = clock.now()
            if outcome == Job.Status.FIXED:
                close_at = now + timedelta(minutes=self.rng.randrange(30, 2 * 24 * 60))
                self.schedule(close_at, self._close(request))
            else:
                follow_up_at = self._office(now + timedelta(minutes=self.rng.randrange(30, 180)))
                self.schedule(
                    follow_up_at, self._assign(request, tenant, visit=visit + 1, previous=technician)
                )

        return complete

    def _cancel(self, job: Job, request: RepairRequest) -> Action:
        def cancel() -> None:
            job_complete(
                job=job,
                status=Job.Status.CANCELLED,
                actor=self.agent,
                note=self.rng.choice(texts.VISIT_NOTES["cancelled"]),
            )
            request_status_change(
                request=request,
                status=RepairRequest.Status.CANCELLED,
                actor=self.agent,
                channel=Event.Channel.PHONE,
                layer=Event.Layer.HUMAN,
                note="Huurder belde af.",
            )

        return cancel

    def _close(self, request: RepairRequest) -> Action:
        def close() -> None:
            request_status_change(
                request=request,
                status=RepairRequest.Status.COMPLETED,
                actor=None,
                channel=Event.Channel.SYSTEM,
                layer=Event.Layer.DIGITAL,
                note="Afgemeld na uitvoering.",
            )

        return close

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
        elif kind == "follow_up":
            day = _add_working_days(local.date(), self.rng.randint(1, 5))
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
