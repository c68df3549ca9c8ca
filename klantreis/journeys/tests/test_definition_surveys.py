"""The survey keys of a journey definition: which kinds a touchpoint asks,
and the conditions a callback can put on their scores."""

from textwrap import dedent

import pytest

from klantreis.journeys.definition import AnyCondition, Condition, DefinitionError, definition_parse
from klantreis.journeys.tests.test_definition import REPAIR


def journey(touchpoint: str) -> str:
    return dedent("""\
        key: test
        name: {nl: Test, en: Test}
        trigger: request.reported
        touchpoints:
        """) + dedent(touchpoint)


ASK = """\
    - id: ask
      name: {nl: Vraag, en: Question}
      layer: digital
      attention: spare
      when: visit.fixed
      at: event
      survey: SURVEY
      message:
        nl: {subject: Vraag, text: "NL {survey_link}"}
        en: {subject: Question, text: "EN {survey_link}"}
"""


def problems(source: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        definition_parse(source)
    return [str(problem) for problem in caught.value.problems]


def test_the_shipped_repair_journey_asks_three_kinds_after_the_repair_and_two_moments() -> None:
    spec = definition_parse(REPAIR)

    asked = {touchpoint.id: touchpoint.survey for touchpoint in spec.touchpoints if touchpoint.survey}

    assert asked == {"on_the_way": ("moment",), "not_fixed": ("moment",), "survey": ("csat", "nps", "ces")}


@pytest.mark.parametrize(
    ("survey", "kinds"),
    [
        ("csat", ("csat",)),
        ("moment", ("moment",)),
        ("[nps]", ("nps",)),
        ("[ces, csat, nps]", ("ces", "csat", "nps")),
    ],
)
def test_a_touchpoint_asks_one_kind_or_several_in_order(survey: str, kinds: tuple[str, ...]) -> None:
    spec = definition_parse(journey(ASK.replace("SURVEY", survey)))

    assert spec.touchpoint("ask").survey == kinds


def test_a_touchpoint_without_survey_asks_nothing() -> None:
    source = journey(ASK.replace("      survey: SURVEY\n", "").replace(" {survey_link}", ""))

    assert definition_parse(source).touchpoint("ask").survey == ()


@pytest.mark.parametrize(
    ("survey", "expected"),
    [
        ("sms", "line 11, touchpoints[0].survey: 'sms' is not one of ['csat', 'nps', 'ces', 'moment']"),
        ("[csat, sms]", "line 11, touchpoints[0].survey[1]: 'sms' is not one of"),
        ("[csat, csat]", "touchpoints[0].survey: ['csat', 'csat'] has non-unique elements"),
        ("[]", "touchpoints[0].survey: [] should be non-empty"),
        ("5", "touchpoints[0].survey: 5 is not of type 'array'"),
        ("[moment, csat]", "line 11, touchpoints[0].survey: 'moment' is a question on its own"),
    ],
)
def test_a_wrong_survey_says_line_field_and_reason(survey: str, expected: str) -> None:
    found = problems(journey(ASK.replace("SURVEY", survey)))

    assert any(expected in problem for problem in found), found


def test_a_survey_needs_its_link_in_every_language() -> None:
    found = problems(journey(ASK.replace("SURVEY", "csat").replace('"EN {survey_link}"', '"EN"')))

    assert found == [
        "line 14, touchpoints[0].message.en.text: "
        "a touchpoint with a survey puts {survey_link} in its text in every language"
    ]


def test_a_survey_link_needs_a_survey() -> None:
    found = problems(journey(ASK.replace("      survey: SURVEY\n", "")))

    assert found == [
        "line 12, touchpoints[0].message: "
        "{survey_link} needs 'survey: csat' (or nps, ces, moment) on the touchpoint"
    ]


def test_only_a_digital_touchpoint_sends_a_survey() -> None:
    source = journey("""\
        - id: call
          name: {nl: Bel, en: Call}
          layer: human
          attention: grab
          when: visit.fixed
          at: event
          survey: csat
          task: {queue: callbacks, deadline: event + 1d, title: {nl: Bel, en: Call}}
        """)

    assert problems(source) == [
        "line 11, touchpoints[0].survey: only a digital touchpoint can send a survey link"
    ]


CALLBACK = """\
    - id: callback
      name: {nl: Terugbellen, en: Call back}
      layer: human
      attention: grab
      when: survey.answered
      if: IF
      at: event
      task: {queue: callbacks, deadline: event + 1wd, title: {nl: Bel, en: Call}}
"""


def test_any_holds_when_one_of_its_conditions_does() -> None:
    source = journey(
        CALLBACK.replace(
            "IF",
            '[{any: [{attribute: csat, op: "<=", value: 2}, {attribute: nps, op: "<=", value: 4}]}, '
            '{attribute: kind, op: "!=", value: moment}]',
        )
    )

    (low, not_moment) = definition_parse(source).touchpoint("callback").conditions

    assert low == AnyCondition((Condition("csat", "<=", 2), Condition("nps", "<=", 4)))
    assert not_moment == Condition("kind", "!=", "moment")
    assert low.holds({"csat": 2, "nps": 9})
    assert low.holds({"csat": 5, "nps": 4})
    assert low.holds({"nps": 0})  # CSAT not asked: the NPS alone decides
    assert not low.holds({"csat": 3, "nps": 5})
    assert not low.holds({"moment": 1, "score": 1})


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("[{any: []}]", "touchpoints[0].if[0].any: [] should be non-empty"),
        (
            "[{any: [{attribute: csat, value: 2}]}]",
            "touchpoints[0].if[0].any[0]: 'op' is a required property",
        ),
        (
            '[{any: [{attribute: csat, op: "<=", value: 2}], op: "<="}]',
            "touchpoints[0].if[0]: Additional properties",
        ),
        ("[{attribute: csat, value: 2}]", "touchpoints[0].if[0]: 'op' is a required property"),
    ],
)
def test_a_wrong_condition_says_where(condition: str, expected: str) -> None:
    found = problems(journey(CALLBACK.replace("IF", condition)))

    assert any(expected in problem for problem in found), found
