"""KPIs on hand-built event logs with known answers."""

from datetime import date, timedelta

import pytest
from django.utils import translation

from klantreis.events.models import Event
from klantreis.insights.filters import InsightFilters
from klantreis.insights.kpis import (
    BREAKDOWNS,
    KPIS,
    kpi_breakdown,
    kpi_cases,
    kpi_compare,
    kpi_total,
    kpi_values,
    messages_by_channel,
)
from klantreis.insights.models import CaseChannel, CaseSummary, InsightsCursor
from klantreis.insights.services import insights_refresh
from klantreis.insights.tests.logs import Log, at
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

pytestmark = pytest.mark.django_db

MARCH = InsightFilters(start=date(2026, 3, 1), end=date(2026, 3, 31))
YEAR = InsightFilters(start=date(2026, 1, 1), end=date(2026, 12, 31))


def summary(case_id: str) -> CaseSummary:
    return CaseSummary.objects.get(case_id=case_id)


def fixed_case(case_id: str, *, day: int, home: int = 1, defect_type: str = "LEK", month: int = 3) -> Log:
    return (
        Log(case_id)
        .reported(at(day, 8, month=month), home=home, defect_type=defect_type)
        .visit("fixed", at(day, 14, month=month))
    )


# --- The fold -----------------------------------------------------------------


def test_a_report_gives_the_case_its_facts_on_the_organisations_date() -> None:
    # 23:30 UTC on 9 March is 00:30 on 10 March in Amsterdam.
    Log("c1", "R-1").reported(at(10, 0, 30), home=7, defect_type="LEK", urgency="urgent")

    assert insights_refresh() == 1

    case = summary("c1")
    assert (case.reference, case.home_id, case.defect_type, case.urgency) == ("R-1", 7, "LEK", "urgent")
    assert case.reported_on == date(2026, 3, 10)
    assert case.report_channel == "portal"
    assert case.contacts == 1
    assert case.first_time_fix is None
    assert case.visits == 0


def test_events_of_a_case_without_a_report_are_left_out() -> None:
    Log("desk-1").record("task.created", at(3), queue="desk")

    assert insights_refresh() == 1
    assert not CaseSummary.objects.exists()
    assert InsightsCursor.objects.get().position == Event.objects.get().pk


def test_technician_firm_and_team_are_the_last_jobs() -> None:
    first = TechnicianFactory(region="Noord")
    second = TechnicianFactory(region="Zuid")
    (
        Log("c1")
        .reported(at(2))
        .assigned(at(2, 9), technician=first.pk, firm=first.firm_id)
        .rescheduled(at(3), by_tenant=False, technician=second.pk, firm=second.firm_id)
    )

    insights_refresh()

    case = summary("c1")
    assert (case.technician_id, case.firm_id, case.team) == (second.pk, second.firm_id, "Zuid")


def test_a_job_for_a_firm_without_a_technician_keeps_the_firm() -> None:
    firm = FirmFactory()
    Log("c1").reported(at(2)).assigned(at(2, 9), technician=None, firm=firm.pk)

    insights_refresh()

    case = summary("c1")
    assert (case.technician_id, case.firm_id, case.team) == (None, firm.pk, "")


def test_the_journey_and_its_version_come_from_journey_started() -> None:
    Log("c1").reported(at(2)).journey(at(2), version=3, key="repair")

    insights_refresh()

    assert (summary("c1").journey_key, summary("c1").journey_version) == ("repair", 3)


# --- First-time fix -----------------------------------------------------------------


def test_a_visit_on_day_30_after_the_fix_is_a_repeat_visit() -> None:
    fixed_case("c1", day=1)  # fixed 1 March 14:00
    # Another report for the same home and defect type; its visit on 31 March
    # (day 30 after 1 March), late in the evening.
    Log("c2").reported(at(30)).visit("not_home", at(31, 23, 30))

    insights_refresh()

    assert summary("c1").first_time_fix is False
    assert kpi_values(filters=MARCH)["first_time_fix"].value == 0.0


def test_a_visit_on_day_31_after_the_fix_is_not_a_repeat_visit() -> None:
    fixed_case("c1", day=1)
    Log("c2").reported(at(30)).visit("fixed", at(1, 0, 30, month=4))  # 1 April: day 31

    insights_refresh()

    assert summary("c1").first_time_fix is True
    assert summary("c2").first_time_fix is True
    value = kpi_values(filters=YEAR)["first_time_fix"]
    assert (value.value, value.numerator, value.denominator) == (100.0, 2, 2)


def test_a_repeat_visit_in_a_later_refresh_undoes_the_first_time_fix() -> None:
    fixed_case("c1", day=1)
    insights_refresh()
    assert summary("c1").first_time_fix is True

    Log("c2").reported(at(20)).visit("fixed", at(21))
    insights_refresh()

    assert summary("c1").first_time_fix is False
    assert summary("c2").first_time_fix is True


def test_a_repeat_needs_the_same_home_and_the_same_defect_type() -> None:
    fixed_case("c1", day=1, home=1, defect_type="LEK")
    fixed_case("c2", day=5, home=2, defect_type="LEK")  # another home
    fixed_case("c3", day=6, home=1, defect_type="ELK")  # another defect type

    insights_refresh()

    assert [summary(c).first_time_fix for c in ("c1", "c2", "c3")] == [True, True, True]


def test_not_home_then_fixed_is_a_first_time_fix() -> None:
    Log("c1").reported(at(2)).visit("not_home", at(3, 10)).visit("fixed", at(4, 10))

    insights_refresh()

    case = summary("c1")
    assert (case.first_outcome, case.first_time_fix) == ("fixed", True)
    values = kpi_values(filters=MARCH)
    assert (values["first_time_fix"].value, values["first_time_fix"].denominator) == (100.0, 1)
    assert (values["not_home"].value, values["not_home"].numerator, values["not_home"].denominator) == (
        50.0,
        1,
        2,
    )


def test_not_fixed_then_fixed_is_not_a_first_time_fix() -> None:
    Log("c1").reported(at(2)).visit("not_fixed", at(3)).visit("fixed", at(5))

    insights_refresh()

    assert summary("c1").first_time_fix is False
    assert summary("c1").visits == 2


def test_a_second_visit_of_the_same_case_after_the_fix_is_a_repeat() -> None:
    Log("c1").reported(at(2)).visit("fixed", at(3)).visit("fixed", at(10))

    insights_refresh()

    assert summary("c1").first_time_fix is False


# --- Reschedules, cancellations, lead time -------------------------------------------------


def test_rescheduled_twice_once_by_the_tenant_once_by_staff() -> None:
    log = Log("c1").reported(at(2))
    log.rescheduled(at(3), by_tenant=True)
    log.rescheduled(at(4), by_tenant=False)
    Log("c2").reported(at(2))

    insights_refresh()

    case = summary("c1")
    assert (case.reschedules, case.reschedules_self_service) == (2, 1)
    assert case.contacts == 2  # the report, and the call that moved it
    values = kpi_values(filters=MARCH)
    assert (values["reschedule"].value, values["reschedule"].numerator, values["reschedule"].denominator) == (
        50.0,
        1,
        2,
    )
    self_service = values["reschedule_self_service"]
    assert (self_service.value, self_service.numerator, self_service.denominator) == (50.0, 1, 2)
    assert values["contacts_per_request"].value == 1.5


def test_cancellations_of_an_appointment_and_of_a_request() -> None:
    Log("c1").reported(at(2)).cancelled(at(3), by_tenant=True)
    Log("c2").reported(at(2)).status(at(3), "registered", "cancelled", channel=Event.Channel.PHONE)
    Log("c3").reported(at(2))

    insights_refresh()

    assert [summary(c).cancelled for c in ("c1", "c2", "c3")] == [True, True, False]
    assert summary("c1").cancelled_at == at(3)
    value = kpi_values(filters=MARCH)["cancellation"]
    assert (value.numerator, value.denominator) == (2, 3)
    cancelled = kpi_cases(filters=MARCH, kpi="cancellation", numerator=True)
    assert set(cancelled.values_list("case_id", flat=True)) == {"c1", "c2"}
    assert kpi_cases(filters=MARCH, kpi="cancellation").count() == 3


def test_lead_time_runs_from_the_report_to_technically_done() -> None:
    (
        Log("c1")
        .reported(at(2, 9))
        .status(at(2, 10), "registered", "in_progress")
        .visit("fixed", at(4, 11))
        .status(at(4, 11), "in_progress", "technically_done")
        .status(at(6, 9), "technically_done", "completed")
    )
    # Reopened: done only when done again.
    (
        Log("c2")
        .reported(at(2, 9))
        .status(at(3, 9), "in_progress", "technically_done")
        .status(at(3, 12), "technically_done", "in_progress")
        .status(at(5, 9), "in_progress", "technically_done")
    )
    Log("c3").reported(at(2, 9))  # not done: not in the mean

    insights_refresh()

    assert summary("c1").lead_time_hours == 50.0
    assert summary("c1").done_at == at(4, 11)
    assert summary("c2").lead_time_hours == 72.0
    value = kpi_values(filters=MARCH)["lead_time_hours"]
    assert (value.value, value.numerator, value.denominator) == (61.0, 122.0, 2)


# --- Punctuality, ETA, messages, contacts -------------------------------------------------


def test_punctuality_counts_arrivals_within_the_promised_window() -> None:
    Log("c1").reported(at(2)).arrived(at(3, 9), on_time=True).visit("not_fixed", at(3, 10))
    Log("c2").reported(at(2)).arrived(at(3, 14), on_time=False)
    Log("c3").reported(at(2))

    insights_refresh()

    value = kpi_values(filters=MARCH)["punctuality"]
    assert (value.value, value.numerator, value.denominator) == (50.0, 1, 2)
    late = kpi_cases(filters=MARCH, kpi="punctuality", numerator=True)
    assert list(late.values_list("case_id", flat=True)) == ["c2"]


def test_eta_error_is_the_last_estimate_before_the_arrival_against_the_arrival() -> None:
    (
        Log("c1")
        .reported(at(2))
        .eta(at(3, 8), at(3, 10, 0))
        .eta(at(3, 9), at(3, 10, 20))  # the last estimate before arriving
        .arrived(at(3, 10, 30), on_time=True)
        .eta(at(4, 8), at(4, 9))  # never met by an arrival: not measured
    )
    Log("c2").reported(at(2)).eta(at(3, 8), at(3, 11, 0)).arrived(at(3, 10, 55), on_time=True)
    Log("c3").reported(at(2)).arrived(at(3, 12), on_time=True)  # no estimate: not measured

    insights_refresh()

    assert (summary("c1").eta_measured, summary("c1").eta_error_minutes) == (1, 10.0)
    value = kpi_values(filters=MARCH)["eta_error_minutes"]
    assert (value.value, value.numerator, value.denominator) == (7.5, 15.0, 2)


def test_an_estimate_for_a_rescheduled_appointment_is_not_measured() -> None:
    Log("c1").reported(at(2)).eta(at(3, 8), at(3, 10)).rescheduled(at(3, 8, 30), by_tenant=True).arrived(
        at(5, 10), on_time=True
    )

    insights_refresh()

    assert summary("c1").eta_measured == 0


def test_messages_per_channel_and_the_delivery_rate() -> None:
    log = Log("c1").reported(at(2))
    log.message(at(2, 10), "sms", delivered=True, message=1)
    log.message(at(2, 11), "sms", delivered=False, message=2)
    log.message(at(2, 12), "email", delivered=True, message=3)
    Log("c2").reported(at(3)).message(at(3, 10), "email", delivered=True, message=4)

    insights_refresh()

    assert messages_by_channel(filters=MARCH) == [("email", 2, 2), ("sms", 2, 1)]
    values = kpi_values(filters=MARCH)
    assert (values["delivery_rate"].value, values["delivery_rate"].denominator) == (75.0, 4)
    assert values["messages_per_request"].value == 2.0
    assert CaseChannel.objects.filter(case__case_id="c1").count() == 2


def test_contacts_count_what_the_tenant_started() -> None:
    log = Log("c1").reported(at(2), channel=Event.Channel.PHONE)
    log.record("customer.message_sent", at(3), channel=Event.Channel.PORTAL, role="customer", text="hi")
    log.record(
        "request.information_added", at(3), channel=Event.Channel.PORTAL, role="customer", text="x", photos=0
    )
    log.record("desk.message_sent", at(4), channel=Event.Channel.PORTAL, role="agent", text="answer")
    log.rescheduled(at(5), by_tenant=True)  # self-service: not a contact

    insights_refresh()

    assert summary("c1").contacts == 3
    assert summary("c1").report_channel == "phone"


# --- Surveys ------------------------------------------------------------------------------


def test_survey_scores_follow_the_definitions() -> None:
    Log("c1").reported(at(2)).survey(at(5), csat=5, nps=10, ces=2)
    Log("c2").reported(at(2)).survey(at(5), csat=4, nps=9)
    Log("c3").reported(at(2)).survey(at(5), csat=3, nps=6, ces=6)
    Log("c4").reported(at(2)).survey(at(5), csat=1, nps=7)
    Log("c5").reported(at(2))  # not answered: in none of them

    insights_refresh()

    values = kpi_values(filters=MARCH)
    assert (values["csat"].value, values["csat"].numerator, values["csat"].denominator) == (50.0, 2, 4)
    # 2 promoters, 1 detractor, 1 passive of 4 answers: 50 % − 25 %.
    assert (values["nps"].value, values["nps"].numerator, values["nps"].denominator) == (25.0, 1, 4)
    assert (values["ces"].value, values["ces"].denominator) == (4.0, 2)


def test_the_latest_answer_per_kind_is_kept() -> None:
    Log("c1").reported(at(2)).survey(at(5), csat=2).survey(at(20), csat=5).survey(at(21), nps=3)

    insights_refresh()

    case = summary("c1")
    assert (case.csat, case.nps, case.ces) == (5, 3, None)


def test_a_moment_answer_or_a_score_out_of_range_is_not_a_kpi_answer() -> None:
    Log("c1").reported(at(2)).survey(at(5), moment=4).survey(at(6), csat=9)

    insights_refresh()

    case = summary("c1")
    assert (case.csat, case.nps, case.ces) == (None, None, None)


# --- Breakdowns and comparison ----------------------------------------------------------------


def test_breakdown_per_technician_firm_team_defect_type_month_and_version() -> None:
    firm = FirmFactory(name="Aannemer B")
    anna = TechnicianFactory(name="Anna", region="Noord", firm=firm)
    bram = TechnicianFactory(name="Bram", region="Zuid")
    Log("c1").reported(at(2), home=1).journey(at(2), version=1).assigned(
        at(2, 9), technician=anna.pk, firm=firm.pk
    ).visit("fixed", at(3))
    Log("c2").reported(at(2), home=2, defect_type="ELK").journey(at(2), version=2).assigned(
        at(2, 9), technician=bram.pk, firm=bram.firm_id
    ).visit("not_fixed", at(3))
    Log("c3").reported(at(2, month=4), home=3).journey(at(2, month=4), version=2).assigned(
        at(2, 9, month=4), technician=anna.pk, firm=firm.pk
    ).visit("fixed", at(3, month=4))
    Log("c4").reported(at(5, month=4), home=4)  # no technician, no journey

    insights_refresh()

    def table(by: str) -> list[tuple[str, str, float | None, int]]:
        with translation.override("en"):
            groups = kpi_breakdown(filters=YEAR, by=by)
        return [
            (g.key, g.label, g.values["first_time_fix"].value, g.values["first_time_fix"].denominator)
            for g in groups
        ]

    assert table("technician") == [
        (str(anna.pk), "Anna", 100.0, 2),
        (str(bram.pk), "Bram", 0.0, 1),
        ("", "(none)", None, 0),
    ]
    assert table("firm")[0] == (str(firm.pk), "Aannemer B", 100.0, 2)
    assert table("team") == [("Noord", "Noord", 100.0, 2), ("Zuid", "Zuid", 0.0, 1), ("", "(none)", None, 0)]
    assert [(key, n) for key, _label, _v, n in table("defect_type")] == [("ELK", 1), ("LEK", 2)]
    assert table("month") == [("2026-03", "2026-03", 50.0, 2), ("2026-04", "2026-04", 100.0, 1)]
    assert table("journey_version") == [
        ("1", "version 1", 100.0, 1),
        ("2", "version 2", 50.0, 2),
        ("", "(none)", None, 0),
    ]
    for by in BREAKDOWNS:
        assert kpi_total(kpi_breakdown(filters=YEAR, by=by)) == kpi_values(filters=YEAR)
    assert set(BREAKDOWNS) == {"month", "technician", "firm", "team", "defect_type", "journey_version"}


def test_an_unknown_breakdown_or_kpi_is_refused() -> None:
    with pytest.raises(ValueError, match="breakdown"):
        kpi_breakdown(filters=MARCH, by="customer")
    with pytest.raises(ValueError, match="KPI"):
        kpi_cases(filters=MARCH, kpi="happiness")


def test_filters_select_the_cases() -> None:
    anna = TechnicianFactory(region="Noord")
    Log("c1").reported(at(2)).assigned(at(2, 9), technician=anna.pk, firm=anna.firm_id)
    Log("c2").reported(at(3), defect_type="ELK").journey(at(3), version=2)
    Log("c3").reported(at(1, month=4))

    insights_refresh()

    def ids(filters: InsightFilters) -> set[str]:
        return set(filters.cases().values_list("case_id", flat=True))

    assert ids(MARCH) == {"c1", "c2"}
    assert ids(InsightFilters(start=date(2026, 3, 3), end=date(2026, 4, 1))) == {"c2", "c3"}
    assert ids(InsightFilters(start=MARCH.start, end=MARCH.end, technician_id=anna.pk)) == {"c1"}
    assert ids(InsightFilters(start=MARCH.start, end=MARCH.end, firm_id=anna.firm_id)) == {"c1"}
    assert ids(InsightFilters(start=MARCH.start, end=MARCH.end, team="Noord")) == {"c1"}
    assert ids(InsightFilters(start=MARCH.start, end=MARCH.end, defect_type="ELK")) == {"c2"}
    assert ids(InsightFilters(start=MARCH.start, end=MARCH.end, journey_version=2)) == {"c2"}


def test_two_journey_versions_side_by_side() -> None:
    Log("a1").reported(at(2), home=1).journey(at(2), version=1).visit("not_fixed", at(3))
    Log("a2").reported(at(2), home=2).journey(at(2), version=1).visit("fixed", at(3))
    Log("b1").reported(at(2), home=3).journey(at(2), version=2).visit("fixed", at(3))
    Log("b2").reported(at(2), home=4).journey(at(2), version=2).visit("fixed", at(3))

    insights_refresh()

    compared = kpi_compare(filters=MARCH, version_a=1, version_b=2)
    before, after = compared["first_time_fix"]
    assert (before.value, before.denominator, after.value, after.denominator) == (50.0, 2, 100.0, 2)
    assert set(compared) == {kpi.key for kpi in KPIS}


def test_no_cases_give_no_values() -> None:
    values = kpi_values(filters=MARCH)

    assert {value.value for value in values.values()} == {None}
    assert {value.denominator for value in values.values()} == {0}
    assert kpi_breakdown(filters=MARCH, by="month") == []
    assert messages_by_channel(filters=MARCH) == []


# --- Refreshing ----------------------------------------------------------------------------


def _snapshot() -> list[tuple[object, ...]]:
    return list(CaseSummary.objects.order_by("case_id").values_list()) + list(
        CaseChannel.objects.order_by("pk").values_list()
    )


def test_refreshing_again_changes_nothing() -> None:
    fixed_case("c1", day=1).message(at(1, 9), "sms", delivered=True).survey(at(2), csat=4)
    Log("c2").reported(at(2)).rescheduled(at(3), by_tenant=True)
    assert insights_refresh() == 7
    before = _snapshot()

    assert insights_refresh() == 0
    assert _snapshot() == before

    # Even a cursor set back to the start folds no event twice.
    InsightsCursor.objects.update(position=0)
    assert insights_refresh() == 7
    assert _snapshot() == before


def test_refreshing_after_more_events_folds_only_the_new_ones() -> None:
    log = Log("c1").reported(at(2)).visit("not_home", at(3))
    assert insights_refresh(batch=1) == 2  # one event per transaction

    log.visit("fixed", at(4)).message(at(4), "email", delivered=True)
    Log("c2").reported(at(5))
    assert insights_refresh(batch=2) == 4

    case = summary("c1")
    assert (case.visits, case.visits_not_home, case.visits_fixed, case.first_time_fix) == (2, 1, 1, True)
    assert (case.messages_sent, case.messages_delivered) == (1, 1)
    assert CaseSummary.objects.count() == 2
    assert InsightsCursor.objects.get().position == Event.objects.order_by("-pk").first().pk  # type: ignore[union-attr]


def test_the_filters_read_from_a_query_string() -> None:
    today = date(2026, 6, 30)

    default = InsightFilters.from_params({}, today=today)
    assert (default.start, default.end) == (today - timedelta(days=89), today)

    chosen = InsightFilters.from_params(
        {
            "start": "2026-01-01",
            "end": "2026-03-31",
            "technician": "4",
            "team": " Noord ",
            "journey_version": "2",
        },
        today=today,
    )
    assert chosen == InsightFilters(
        start=date(2026, 1, 1), end=date(2026, 3, 31), technician_id=4, team="Noord", journey_version=2
    )
    assert InsightFilters.from_params(chosen.as_params(), today=today) == chosen

    hostile = InsightFilters.from_params(
        {
            "start": "1900-01-01",
            "end": "nonsense",
            "technician": "-1; DROP",
            "firm": "9" * 40,
            "team": "x" * 500,
        },
        today=today,
    )
    assert hostile.end == today
    assert (hostile.end - hostile.start).days <= 366 * 10
    assert (hostile.technician_id, hostile.firm_id, len(hostile.team)) == (None, None, 100)

    swapped = InsightFilters.from_params({"start": "2026-03-31", "end": "2026-03-01"}, today=today)
    assert (swapped.start, swapped.end) == (date(2026, 3, 1), date(2026, 3, 31))
