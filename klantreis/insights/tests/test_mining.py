"""Process mining on hand-built logs with known answers, and on a case the
real journey engine ran end to end."""

from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from klantreis.core.clock import FixedClock, use_clock
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.insights import mining
from klantreis.insights.mining import Deviation
from klantreis.journeys.models import JourneyDefinition
from klantreis.journeys.services import definitions_install_defaults, spec_for

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONDAY = datetime(2026, 3, 9, tzinfo=AMSTERDAM)
_numbers = count(1)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=AMSTERDAM)


def record(
    case_id: str, activity: str, at: datetime, *, channel: str = "system", **attributes: object
) -> None:
    with transaction.atomic():
        event_record(
            case_id=case_id,
            activity=activity,
            actor=None,
            channel=channel,
            layer="digital",
            attributes=attributes,
            occurred_at=at,
        )


def sent(case_id: str, touchpoint: str, at: datetime, *, key: str = "") -> None:
    """A journey message handed to a channel, as messaging records it."""
    number = next(_numbers)
    record(
        case_id,
        "message.sent",
        at,
        channel="email",
        message=number,
        key=key or f"tp-{number}",
        source=f"journey:repair:{touchpoint}",
        channel_used="email",
        attempt=1,
    )


def journey(case_id: str, *, skip: str = "", extra: str = "", swap: bool = False, late: str = "") -> None:
    """A repair that went the designed way: reported Monday 10:00, booked for
    Tuesday 10–12, reminded Monday 18:00, the technician on the way Tuesday
    10:20, fixed 11:00, the survey at 13:00, closed Wednesday. The keywords
    plant one deviation."""
    window_start, window_end = local(10, 10), local(10, 12)
    record(case_id, "request.reported", local(9, 10), channel="portal", request=case_id, urgency="normal")
    record(case_id, "journey.started", local(9, 10), journey="repair", version=1)
    if swap:
        # Booked a minute after reporting; the confirmation overtook the receipt.
        booked_at = local(9, 10, 1)
        record(
            case_id,
            "appointment.booked",
            booked_at,
            channel="portal",
            job=7,
            window_start=window_start.isoformat(),
            window_end=window_end.isoformat(),
        )
        sent(case_id, "confirmation", local(9, 10, 2))
        sent(case_id, "received", local(9, 10, 5))
    else:
        sent(case_id, "received", local(9, 10, 1))
        record(
            case_id,
            "appointment.booked",
            local(9, 10, 30),
            channel="portal",
            job=7,
            window_start=window_start.isoformat(),
            window_end=window_end.isoformat(),
        )
        sent(case_id, "confirmation", local(9, 10, 31))
    if skip != "reminder":
        sent(case_id, "reminder", local(9, 18))
    record(case_id, "message.delivered", local(9, 18, 1), channel="email", message=0, key="tp-0")
    record(case_id, "technician.on_the_way", local(10, 10, 20), job=7, technician=3)
    record(
        case_id, "eta.updated", local(10, 10, 20), job=7, eta=local(10, 10, 45).isoformat(), previous_eta=None
    )
    sent(case_id, "on_the_way", local(10, 10, 21))
    record(case_id, "visit.arrived", local(10, 10, 45), job=7, technician=3)
    record(case_id, "visit.fixed", local(10, 11), job=7, technician=3)
    if extra:
        sent(case_id, extra, local(10, 12))
    sent(case_id, "survey", local(10, 14) if late == "survey" else local(10, 13, 10))
    record(
        case_id,
        "request.status_changed",
        local(11, 9),
        request=case_id,
        **{"from": "planned", "to": "completed"},
    )


@pytest.fixture
def definition(db: None) -> JourneyDefinition:
    with use_clock(FixedClock(MONDAY)):
        definitions_install_defaults()
    return JourneyDefinition.objects.get(key="repair", active=True)


@pytest.fixture
def planted(definition: JourneyDefinition) -> JourneyDefinition:
    journey("case-fits")
    journey("case-fits-too")
    journey("case-skips", skip="reminder")
    journey("case-extra", extra="not_fixed")
    journey("case-swap", swap=True)
    journey("case-late", late="survey")
    return definition


@pytest.mark.django_db
def test_conformance_finds_exactly_the_planted_deviations(planted: JourneyDefinition) -> None:
    steps: list[int] = []
    with use_clock(FixedClock(local(20, 12))):
        result = mining.conformance(definition=planted, progress=steps.append)

    assert result.cases == 6
    assert result.fitting == 2
    assert sorted(result.deviations, key=lambda d: d.kind) == [
        Deviation(kind="extra", touchpoint="not_fixed", cases=1, share=1 / 6, case_ids=("case-extra",)),
        Deviation(kind="late", touchpoint="survey", cases=1, share=1 / 6, case_ids=("case-late",)),
        Deviation(
            kind="out_of_order", touchpoint="confirmation", cases=1, share=1 / 6, case_ids=("case-swap",)
        ),
        Deviation(kind="skipped", touchpoint="reminder", cases=1, share=1 / 6, case_ids=("case-skips",)),
    ]
    assert steps[-1] == 100


@pytest.mark.django_db
def test_conformance_cases_are_the_ones_behind_each_deviation(planted: JourneyDefinition) -> None:
    with use_clock(FixedClock(local(20, 12))):
        assert mining.conformance_cases(definition=planted, kind="skipped", touchpoint="reminder") == [
            "case-skips"
        ]
        assert mining.conformance_cases(definition=planted, kind="extra", touchpoint="not_fixed") == [
            "case-extra"
        ]
        assert mining.conformance_cases(
            definition=planted, kind="out_of_order", touchpoint="confirmation"
        ) == ["case-swap"]
        assert mining.conformance_cases(definition=planted, kind="late", touchpoint="survey") == ["case-late"]
        assert mining.conformance_cases(definition=planted, kind="late", touchpoint="reminder") == []


@pytest.mark.django_db
def test_conformance_narrows_to_the_cases_given_and_the_tolerance_is_configurable(
    planted: JourneyDefinition,
) -> None:
    cases = Event.objects.filter(case_id__in=["case-late", "case-fits"]).values_list("case_id", flat=True)
    with use_clock(FixedClock(local(20, 12))):
        strict = mining.conformance(definition=planted, cases=cases)
        lenient = mining.conformance(definition=planted, cases=cases, tolerance=timedelta(hours=2))

    assert (strict.cases, strict.fitting) == (2, 1)
    assert strict.deviations == [
        Deviation(kind="late", touchpoint="survey", cases=1, share=0.5, case_ids=("case-late",))
    ]
    # The survey went out 50 minutes after it was due: within two hours' tolerance.
    assert (lenient.cases, lenient.fitting, lenient.deviations) == (2, 2, [])


@pytest.mark.django_db
def test_a_retry_and_the_fallback_channel_are_the_same_touchpoint(definition: JourneyDefinition) -> None:
    record("case-retry", "request.reported", local(9, 10), channel="portal", request="case-retry")
    sent("case-retry", "received", local(9, 10, 1), key="tp-900")
    sent("case-retry", "received", local(9, 10, 3), key="tp-900")  # sent again after a crash
    sent("case-retry", "received", local(9, 10, 12), key="tp-900.sms")  # the fallback channel
    sent("case-retry", "received", local(9, 11), key="tp-901")  # a second occurrence: extra

    with use_clock(FixedClock(local(9, 12))):
        result = mining.conformance(definition=definition)

    assert result.deviations == [
        Deviation(kind="extra", touchpoint="received", cases=1, share=1.0, case_ids=("case-retry",))
    ]


@pytest.mark.django_db
def test_a_running_case_is_not_blamed_for_what_is_not_due_yet(definition: JourneyDefinition) -> None:
    record("case-open", "request.reported", local(9, 10), channel="portal", request="case-open")
    sent("case-open", "received", local(9, 10, 1))
    record(
        "case-open",
        "appointment.booked",
        local(9, 10, 30),
        job=8,
        window_start=local(10, 10).isoformat(),
        window_end=local(10, 12).isoformat(),
    )
    sent("case-open", "confirmation", local(9, 10, 31))

    # Monday noon: the reminder is due at 18:00, nothing is missing yet.
    with use_clock(FixedClock(local(9, 12))):
        before = mining.conformance(definition=definition)
    # Monday 19:00: the reminder should have gone an hour ago.
    with use_clock(FixedClock(local(9, 19))):
        after = mining.conformance(definition=definition)

    assert (before.cases, before.fitting, before.deviations) == (1, 1, [])
    assert after.deviations == [
        Deviation(kind="skipped", touchpoint="reminder", cases=1, share=1.0, case_ids=("case-open",))
    ]


@pytest.mark.django_db
def test_a_reschedule_moves_the_expected_reminder(definition: JourneyDefinition) -> None:
    record("case-moved", "request.reported", local(9, 10), channel="portal", request="case-moved")
    sent("case-moved", "received", local(9, 10, 1))
    record(
        "case-moved",
        "appointment.booked",
        local(9, 10, 30),
        job=9,
        window_start=local(10, 10).isoformat(),
        window_end=local(10, 12).isoformat(),
    )
    sent("case-moved", "confirmation", local(9, 10, 31))
    record(
        "case-moved",
        "appointment.rescheduled",
        local(9, 11),
        job=9,
        window_start=local(11, 10).isoformat(),
        window_end=local(11, 12).isoformat(),
    )
    sent("case-moved", "reschedule_confirmation", local(9, 11, 1))
    sent("case-moved", "reminder", local(10, 18))

    with use_clock(FixedClock(local(11, 9))):
        result = mining.conformance(definition=definition)

    assert (result.cases, result.fitting, result.deviations) == (1, 1, [])


@pytest.mark.django_db
def test_directly_follows_counts_on_a_small_log(db: None) -> None:
    for case_id, activities in [("a", ["x", "y", "z"]), ("b", ["x", "y", "y"]), ("c", ["x", "z"])]:
        for minute, activity in enumerate(activities):
            record(case_id, f"t.{activity}", local(9, 10, minute))
    # Written out of time order: the graph follows time, not ids.
    record("c", "t.w", local(9, 9))

    graph = mining.directly_follows()

    assert graph.activities == {"t.x": 3, "t.y": 3, "t.z": 2, "t.w": 1}
    assert graph.edges == {
        ("t.x", "t.y"): 2,
        ("t.y", "t.z"): 1,
        ("t.y", "t.y"): 1,
        ("t.w", "t.x"): 1,
        ("t.x", "t.z"): 1,
    }
    assert graph.start == {"t.x": 2, "t.w": 1}
    assert graph.end == {"t.z": 2, "t.y": 1}
    narrowed = mining.directly_follows(
        cases=Event.objects.filter(case_id="a").values_list("case_id", flat=True)
    )
    assert narrowed.edges == {("t.x", "t.y"): 1, ("t.y", "t.z"): 1}
    assert mining.directly_follows(cases=Event.objects.none().values_list("case_id", flat=True)).edges == {}


@pytest.mark.django_db
def test_the_event_frame_has_pm4pys_columns(planted: JourneyDefinition) -> None:
    frame = mining.event_frame(
        cases=Event.objects.filter(case_id="case-fits").values_list("case_id", flat=True)
    )

    assert list(frame.columns) == [
        "case:concept:name",
        "concept:name",
        "time:timestamp",
        "org:resource",
        "org:role",
        "channel",
        "layer",
    ]
    assert set(frame["case:concept:name"]) == {"case-fits"}
    assert frame["concept:name"].iloc[0] == "request.reported"
    assert frame["time:timestamp"].is_monotonic_increasing
    assert str(frame["time:timestamp"].dt.tz) == "UTC"
    assert len(frame) == Event.objects.filter(case_id="case-fits").count()


@pytest.mark.django_db
def test_xes_reads_back_in_pm4py(planted: JourneyDefinition, tmp_path: Path) -> None:
    path = tmp_path / "log.xes"

    written = mining.xes_write(path=path)

    pm4py = mining._pm4py()
    log = pm4py.read_xes(str(path))
    assert written == Event.objects.count() == len(log)
    assert log["case:concept:name"].nunique() == 6
    fits = log[log["case:concept:name"] == "case-fits"].sort_values("time:timestamp")
    assert fits["concept:name"].iloc[0] == "request.reported"
    assert fits["concept:name"].iloc[-1] == "request.status_changed"
    assert fits["time:timestamp"].iloc[0] == local(9, 10)
    assert set(log["channel"]) == {"portal", "system", "email"}


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["log.json", "log.xmlocel"])
def test_ocel2_reads_back_in_pm4py(planted: JourneyDefinition, tmp_path: Path, name: str) -> None:
    path = tmp_path / name

    written = mining.ocel_write(path=path)

    pm4py = mining._pm4py()
    ocel = pm4py.read_ocel2(str(path))
    assert written == Event.objects.count() == len(ocel.events)
    types = ocel.objects.groupby("ocel:type").size().to_dict()
    # Six cases; one job (7) and one technician (3) shared by the hand-built log;
    # one message object per message event.
    messages = {e.attributes["message"] for e in Event.objects.filter(activity__startswith="message.")}
    assert types == {"case": 6, "appointment": 1, "technician": 1, "message": len(messages)}
    fixed = ocel.events[ocel.events["ocel:activity"] == "visit.fixed"]
    assert len(fixed) == 6
    one = fixed["ocel:eid"].iloc[0]
    related = set(ocel.relations[ocel.relations["ocel:eid"] == one]["ocel:type"])
    assert related == {"case", "appointment", "technician"}


@pytest.mark.django_db
def test_ocel_write_names_an_unknown_extension_as_json(definition: JourneyDefinition, tmp_path: Path) -> None:
    journey("case-fits")
    path = tmp_path / "export.ocel"

    assert mining.ocel_write(path=path) == Event.objects.count()

    assert path.exists()
    pm4py = mining._pm4py()
    assert len(pm4py.read_ocel2_json(str(path)).events) == Event.objects.count()


@pytest.mark.django_db
def test_sentiment_sets_designed_beside_measured(definition: JourneyDefinition) -> None:
    from klantreis.feedback.models import Survey

    customer = CustomerFactory()
    now = local(10, 13)
    for number, (kind, touchpoint, score, case_id) in enumerate(
        [
            ("csat", "survey", 5, "c1"),  # +2
            ("csat", "survey", 2, "c2"),  # -1
            ("moment", "on_the_way", 4, "c1"),  # +1
            ("moment", "on_the_way", None, "c2"),  # not answered
            ("nps", "survey", 9, "c1"),  # another scale: not a sentiment
        ]
    ):
        Survey.objects.create(
            kind=kind,
            case_id=case_id,
            customer=customer,
            key=f"tp-{number}",
            token_hash=f"{number:064d}",
            language="en",
            touchpoint=touchpoint,
            created_at=now,
            expires_at=now + timedelta(days=14),
            answered_at=now if score is not None else None,
            score=score,
        )

    rows = {row.touchpoint: row for row in mining.sentiment(definition=definition)}
    nothing = mining.sentiment(
        definition=definition, cases=Event.objects.none().values_list("case_id", flat=True)
    )

    assert list(rows) == [tp.id for tp in spec_for(definition).touchpoints]
    assert rows["survey"].designed == 1
    assert (rows["survey"].measured, rows["survey"].answers) == (0.5, 2)
    assert (rows["survey"].peak, rows["survey"].end) == (False, True)
    assert (rows["on_the_way"].designed, rows["on_the_way"].measured, rows["on_the_way"].answers) == (
        2,
        1.0,
        1,
    )
    assert (rows["on_the_way"].peak, rows["on_the_way"].end) == (True, False)
    assert (rows["reminder"].designed, rows["reminder"].measured, rows["reminder"].answers) == (0, None, 0)
    assert rows["callback"].name == "Call back after a low score"
    assert all(row.measured is None and row.answers == 0 for row in nothing)
