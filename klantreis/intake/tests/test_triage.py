import copy
import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from klantreis.core.errors import ApplicationError
from klantreis.intake.models import TriageTree, VeraCode
from klantreis.intake.services import (
    MESSAGE_VERA_NOT_LOADED,
    TRIAGE_DEFAULTS_DIR,
    triage_tree_install_defaults,
    vera_code_checker,
)
from klantreis.intake.tests.factories import leak_definition
from klantreis.intake.triage import MESSAGE_INVALID_ANSWER, Step, TreeError, tree_validate, tree_walk
from klantreis.intake.vera import REFERENCE_CSV


def current_vera_codes() -> set[tuple[str, str]]:
    """The codes in force, read from the shipped VERA file (no database, so
    hypothesis can run many examples quickly)."""
    with REFERENCE_CSV.open(encoding="utf-8", newline="") as handle:
        return {
            (row["Soort"], row["Code"])
            for row in csv.DictReader(handle, delimiter=";")
            if row["Soort"] in VeraCode.Kind.values and not row["Einddatum"]
        }


CODES = current_vera_codes()
DEFAULT_FILES = sorted(TRIAGE_DEFAULTS_DIR.glob("*.json"))
DEFAULTS = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in DEFAULT_FILES}


def code_exists(kind: str, code: str) -> bool:
    return (kind, code) in CODES


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def errors_of(definition: Any) -> list[str]:
    return [str(error) for error in tree_validate(definition, code_exists=code_exists)]


def changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    definition = leak_definition()
    change(definition)
    return definition


# --- tree_validate ------------------------------------------------------------


def test_the_factory_tree_is_valid():
    assert tree_validate(leak_definition(), code_exists=code_exists) == []


def test_a_tree_must_be_an_object():
    assert tree_validate([], code_exists=code_exists) == [
        TreeError("$", "the tree must be an object with start, questions and outcomes")
    ]


def test_missing_start():
    definition = changed(lambda d: d.pop("start"))

    assert errors_of(definition) == ["$.start: must name one of the questions"]


def test_start_naming_no_question():
    definition = changed(lambda d: d.update(start="nowhere"))

    assert errors_of(definition) == ["$.start: must name one of the questions"]


def test_unknown_next_question():
    definition = changed(lambda d: d["questions"]["flooding"]["answers"][1].update(next="x"))

    assert errors_of(definition) == ["$.questions.flooding.answers[1].next: no question x"]


def test_next_that_is_not_text():
    definition = changed(lambda d: d["questions"]["flooding"]["answers"][1].update(next=["where"]))

    assert errors_of(definition) == ["$.questions.flooding.answers[1].next: no question ['where']"]


def test_unknown_outcome():
    definition = changed(lambda d: d["questions"]["where"]["answers"][0].update(outcome="nope"))

    assert errors_of(definition) == ["$.questions.where.answers[0].outcome: no outcome nope"]


def test_cycle():
    def loop(d: dict[str, Any]) -> None:
        answer = d["questions"]["where"]["answers"][0]
        answer.pop("outcome")
        answer["next"] = "flooding"

    assert errors_of(changed(loop)) == ["$.questions.flooding: the questions go round in a circle"]


def test_a_question_answering_itself_is_a_cycle():
    def loop(d: dict[str, Any]) -> None:
        answer = d["questions"]["where"]["answers"][1]
        answer.pop("outcome")
        answer["next"] = "where"

    assert errors_of(changed(loop)) == ["$.questions.where: the questions go round in a circle"]


def test_unreachable_question():
    def orphan(d: dict[str, Any]) -> None:
        d["questions"]["orphan"] = copy.deepcopy(d["questions"]["where"])

    assert errors_of(changed(orphan)) == ["$.questions.orphan: no answer leads to this question"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["questions"]["where"]["text"].pop("en"), "$.questions.where.text.en"),
        (lambda d: d["questions"]["where"]["text"].update(nl="   "), "$.questions.where.text.nl"),
        (
            lambda d: d["questions"]["flooding"]["answers"][0]["label"].pop("nl"),
            "$.questions.flooding.answers[0].label.nl",
        ),
        (lambda d: d["outcomes"]["flood"]["reason"].update(en=""), "$.outcomes.flood.reason.en"),
        (lambda d: d["outcomes"]["flood"]["reason"].update(nl=7), "$.outcomes.flood.reason.nl"),
    ],
)
def test_missing_text(change, path):
    assert errors_of(changed(change)) == [f"{path}: text missing"]


def test_text_that_is_not_in_two_languages():
    definition = changed(lambda d: d["questions"]["where"].update(text="Waar lekt het?"))

    assert errors_of(definition) == [
        "$.questions.where.text: must give the text in Dutch (nl) and English (en)"
    ]


def test_text_too_long():
    definition = changed(lambda d: d["outcomes"]["tap"]["reason"].update(en="x" * 301))

    assert errors_of(definition) == ["$.outcomes.tap.reason.en: at most 300 characters"]


@pytest.mark.parametrize("urgency", ["", "EMERGENCY", "soon", None, 1])
def test_bad_urgency(urgency):
    definition = changed(lambda d: d["outcomes"]["flood"].update(urgency=urgency))

    assert errors_of(definition) == ["$.outcomes.flood.urgency: must be one of emergency, urgent, normal"]


def test_missing_urgency():
    definition = changed(lambda d: d["outcomes"]["flood"].pop("urgency"))

    assert errors_of(definition) == ["$.outcomes.flood.urgency: must be one of emergency, urgent, normal"]


@pytest.mark.parametrize("code", ["XYZ", "LEK", "loo", "ZAN", None])
def test_unknown_specialism(code):
    # LEK is a defect type, not a specialism; ZAN is a specialism that expired in 2023.
    definition = changed(lambda d: d["outcomes"]["tap"].update(specialism=code))

    assert errors_of(definition) == [f"$.outcomes.tap.specialism: unknown VERA specialism {code!r}"]


@pytest.mark.parametrize(
    ("field", "code"), [("defect_type", "LOO "), ("defect_type", "BAD"), ("defect_location", "LEK")]
)
def test_unknown_defect_type_or_location(field, code):
    definition = changed(lambda d: d["outcomes"]["tap"].update({field: code}))

    assert errors_of(definition) == [f"$.outcomes.tap.{field}: unknown VERA code {code!r}"]


@pytest.mark.parametrize("minutes", [0, 4, 1441, -30, 30.5, "60", True, None])
def test_minutes_out_of_range(minutes):
    definition = changed(lambda d: d["outcomes"]["tap"].update(minutes=minutes))

    assert errors_of(definition) == ["$.outcomes.tap.minutes: must be whole minutes from 5 to 1440"]


@pytest.mark.parametrize("minutes", [5, 1440])
def test_minutes_at_the_limits(minutes):
    assert errors_of(changed(lambda d: d["outcomes"]["tap"].update(minutes=minutes))) == []


def test_both_next_and_outcome():
    definition = changed(lambda d: d["questions"]["where"]["answers"][0].update(next="flooding"))

    assert errors_of(definition) == [
        "$.questions.where.answers[0]: needs either next or outcome, not both and not neither"
    ]


def test_neither_next_nor_outcome():
    definition = changed(lambda d: d["questions"]["where"]["answers"][0].pop("outcome"))

    assert errors_of(definition) == [
        "$.questions.where.answers[0]: needs either next or outcome, not both and not neither"
    ]


def test_duplicate_answer_keys():
    definition = changed(lambda d: d["questions"]["where"]["answers"][1].update(key="tap"))

    assert errors_of(definition) == ["$.questions.where.answers[1].key: answer key tap is used twice"]


def test_one_answer_is_not_a_choice():
    definition = changed(lambda d: d["questions"]["where"]["answers"].pop())

    assert errors_of(definition) == ["$.questions.where.answers: needs at least two answers"]


@pytest.mark.parametrize("key", ["Tap", "tap water", "", "x" * 41, "<b>"])
def test_bad_answer_key(key):
    definition = changed(lambda d: d["questions"]["where"]["answers"][0].update(key=key))

    assert errors_of(definition) == [
        "$.questions.where.answers[0].key: key may only hold a-z, 0-9 and _ (at most 40)"
    ]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.update(version=2), "$.version"),
        (lambda d: d["questions"]["where"].update(note="x"), "$.questions.where.note"),
        (
            lambda d: d["questions"]["where"]["answers"][0].update(outcomes="tap"),
            "$.questions.where.answers[0].outcomes",
        ),
        (lambda d: d["outcomes"]["flood"].update(specialisms=["LOO"]), "$.outcomes.flood.specialisms"),
    ],
)
def test_unknown_fields(change, path):
    assert errors_of(changed(change)) == [f"{path}: unknown field"]


def test_bad_material_and_phone():
    def change(d: dict[str, Any]) -> None:
        d["outcomes"]["flood"]["material"] = "kraanleertje"
        d["outcomes"]["flood"]["emergency_phone"] = "bel 112"

    assert errors_of(changed(change)) == [
        "$.outcomes.flood.material: must be a list of short texts",
        "$.outcomes.flood.emergency_phone: must be a phone number",
    ]


def test_empty_questions_and_outcomes():
    assert errors_of({"start": "a", "questions": {}, "outcomes": {}}) == [
        "$.questions: must be an object with at least one question",
        "$.outcomes: must be an object with at least one outcome",
        "$.start: must name one of the questions",
    ]


def test_every_problem_is_reported_at_once():
    def change(d: dict[str, Any]) -> None:
        d["questions"]["flooding"]["answers"][1]["next"] = "x"
        d["outcomes"]["tap"]["minutes"] = 2000
        d["outcomes"]["ceiling"]["urgency"] = "soon"

    assert errors_of(changed(change)) == [
        "$.questions.flooding.answers[1].next: no question x",
        "$.outcomes.tap.minutes: must be whole minutes from 5 to 1440",
        "$.outcomes.ceiling.urgency: must be one of emergency, urgent, normal",
    ]


# --- tree_walk ----------------------------------------------------------------


def test_walk_follows_the_answers_to_an_outcome():
    walk = tree_walk(leak_definition(), {"flooding": "no", "where": "tap"})

    assert walk.steps == [
        Step("flooding", "Is water flowing that you cannot stop?", "no", "No"),
        Step("where", "Where is it leaking?", "tap", "Tap"),
    ]
    assert walk.next_question_key is None
    assert walk.outcome is not None
    assert (walk.outcome.key, walk.outcome.urgency, walk.outcome.specialism, walk.outcome.minutes) == (
        "tap",
        "normal",
        "LOA",
        30,
    )
    assert (walk.outcome.material, walk.outcome.defect_type, walk.outcome.defect_location) == (
        ["kraanleertje"],
        "DRP",
        None,
    )
    assert walk.outcome.reason_text == "A dripping tap."


def test_walk_texts_are_in_the_active_language():
    with translation.override("nl"):
        walk = tree_walk(leak_definition(), {"flooding": "yes"})

    assert walk.as_record() == [
        {
            "question_key": "flooding",
            "question": "Stroomt er water dat u niet kunt stoppen?",
            "answer_key": "yes",
            "answer": "Ja",
        }
    ]


def test_walk_stops_at_the_first_unanswered_question():
    walk = tree_walk(leak_definition(), {"flooding": "no"})

    assert [step.question_key for step in walk.steps] == ["flooding"]
    assert (walk.next_question_key, walk.outcome) == ("where", None)


def test_walk_without_answers_asks_the_start_question():
    walk = tree_walk(leak_definition(), {})

    assert (walk.steps, walk.next_question_key, walk.outcome) == ([], "flooding", None)


def test_walk_ignores_answers_off_the_path():
    # The customer answered "where" and then went back and said it floods.
    walk = tree_walk(leak_definition(), {"flooding": "yes", "where": "tap", "other": "x"})

    assert [step.question_key for step in walk.steps] == ["flooding"]
    assert walk.outcome is not None
    assert (walk.outcome.key, walk.outcome.is_emergency) == ("flood", True)


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"flooding": "maybe"}, "answer_flooding"),
        ({"flooding": "no", "where": "roof"}, "answer_where"),
        ({"flooding": ""}, "answer_flooding"),
        ({"flooding": "<script>"}, "answer_flooding"),
    ],
)
def test_walk_refuses_an_answer_the_question_does_not_have(answers, field):
    with pytest.raises(ApplicationError) as raised:
        tree_walk(leak_definition(), answers)

    assert raised.value.message == MESSAGE_INVALID_ANSWER
    assert raised.value.field == field


# --- the default trees --------------------------------------------------------


def test_the_defaults_cover_the_common_problems():
    assert set(DEFAULTS) >= {"leak", "heating", "drain", "door_lock", "electrics", "mould", "other"}


@pytest.mark.parametrize("path", DEFAULT_FILES, ids=lambda path: path.stem)
def test_every_default_tree_validates(path, vera):
    data = json.loads(path.read_text(encoding="utf-8"))

    assert tree_validate(data["definition"], code_exists=vera_code_checker()) == []
    assert data["slug"] == path.stem
    assert VeraCode.objects.filter(kind=VeraCode.Kind.DEFECT_TYPE, code=data["defect_type"]).exists()
    assert data["title"]["nl"]
    assert data["title"]["en"]


def outcome_of(slug: str, answers: dict[str, str]) -> tuple[Any, ...]:
    definition = DEFAULTS[slug]["definition"]
    walk = tree_walk(definition, answers)
    assert walk.outcome is not None, walk.next_question_key
    outcome = walk.outcome
    return (
        outcome.urgency,
        outcome.specialism,
        outcome.defect_type or DEFAULTS[slug]["defect_type"],
        outcome.minutes,
    )


@pytest.mark.parametrize(
    ("slug", "answers", "expected"),
    [
        ("leak", {"unstoppable": "yes"}, ("emergency", "LOO", "LEK", 90)),
        ("leak", {"unstoppable": "no", "source": "tap"}, ("normal", "LOA", "DRP", 30)),
        ("leak", {"unstoppable": "no", "source": "toilet"}, ("normal", "LOA", "LOO", 45)),
        (
            "leak",
            {"unstoppable": "no", "source": "pipe", "pipe_catch": "no"},
            ("emergency", "LOO", "LEK", 90),
        ),
        (
            "leak",
            {"unstoppable": "no", "source": "ceiling", "near_electrics": "no", "above": "roof"},
            ("urgent", "DAK", "LEK", 120),
        ),
        (
            "leak",
            {"unstoppable": "no", "source": "ceiling", "near_electrics": "yes"},
            ("emergency", "ELE", "LEK", 60),
        ),
        ("heating", {"gas": "yes"}, ("emergency", "CVI", "GAS", 60)),
        (
            "heating",
            {"gas": "no", "problem": "no_heat", "hot_water": "no", "cold_nothing": "yes"},
            ("urgent", "CVI", "STO", 90),
        ),
        (
            "heating",
            {"gas": "no", "problem": "no_heat", "hot_water": "yes", "cold_heating_only": "no"},
            ("normal", "CVI", "STO", 60),
        ),
        ("heating", {"gas": "no", "problem": "pressure"}, ("normal", "CVI", "DRU", 30)),
        ("drain", {"what": "toilet", "other_toilet": "no"}, ("urgent", "ONT", "VS0", 60)),
        ("drain", {"what": "toilet", "other_toilet": "yes"}, ("normal", "ONT", "VS0", 60)),
        ("drain", {"what": "sink", "drains_away": "yes"}, ("normal", "LOA", "VS0", 30)),
        (
            "door_lock",
            {"which": "front", "front": "locked_out", "why_out": "lock"},
            ("urgent", "TIM", "SDE", 60),
        ),
        ("door_lock", {"which": "front", "front": "wont_lock"}, ("urgent", "TAL", "SDE", 60)),
        ("door_lock", {"which": "inner", "inner": "sticks"}, ("normal", "TAL", "KLE", 45)),
        ("electrics", {"danger": "yes"}, ("emergency", "ELE", "DEF", 60)),
        (
            "electrics",
            {"danger": "no", "what": "whole_home", "neighbours": "yes"},
            ("urgent", "ELE", "STO", 60),
        ),
        ("electrics", {"danger": "no", "what": "socket"}, ("normal", "ELA", "DEF", 30)),
        ("mould", {"size": "small", "where": "wall", "wet": "no"}, ("normal", "SCH", "SCH", 60)),
        ("mould", {"size": "small", "where": "wall", "wet": "yes"}, ("normal", "VOC", "VOC", 90)),
        ("mould", {"size": "large"}, ("normal", "INS", "SCH", 60)),
        ("glass", {"what": "broken", "open": "yes"}, ("urgent", "GLA", "GLA", 60)),
        ("other", {"where": "inside"}, ("normal", "OVE", "OVE", 60)),
    ],
)
def test_default_outcomes(slug, answers, expected):
    assert outcome_of(slug, answers) == expected


def test_the_dripping_tap_brings_a_tap_washer():
    walk = tree_walk(DEFAULTS["leak"]["definition"], {"unstoppable": "no", "source": "tap"})

    assert walk.outcome is not None
    assert "kraanleertje" in walk.outcome.material


def test_a_gas_smell_sends_the_customer_to_the_gas_emergency_line():
    walk = tree_walk(DEFAULTS["heating"]["definition"], {"gas": "yes"})

    assert walk.outcome is not None
    assert walk.outcome.emergency_phone == "0800 9009"
    assert "0800 9009" in walk.outcome.reason["nl"]
    assert "0800 9009" in walk.outcome.reason["en"]


def test_sparks_send_the_customer_to_the_organisations_own_number():
    walk = tree_walk(DEFAULTS["electrics"]["definition"], {"danger": "yes"})

    assert walk.outcome is not None
    assert (walk.outcome.is_emergency, walk.outcome.emergency_phone) == (True, None)


def test_every_emergency_tells_the_customer_to_call():
    for slug, data in DEFAULTS.items():
        for key, outcome in data["definition"]["outcomes"].items():
            if outcome["urgency"] == "emergency":
                assert "bel" in outcome["reason"]["nl"].lower(), (slug, key)
                assert "call" in outcome["reason"]["en"].lower(), (slug, key)


@given(slug=st.sampled_from(sorted(DEFAULTS)), data=st.data())
def test_any_walk_through_a_default_tree_ends_in_an_outcome_with_known_codes(slug, data):
    definition = DEFAULTS[slug]["definition"]
    questions = definition["questions"]
    answers: dict[str, str] = {}
    walk = tree_walk(definition, answers)
    while walk.outcome is None:
        assert len(answers) < len(questions)
        question = questions[walk.next_question_key]
        keys = [answer["key"] for answer in question["answers"]]
        answers[walk.next_question_key] = data.draw(st.sampled_from(keys))
        walk = tree_walk(definition, answers)

    outcome = walk.outcome
    assert 1 <= len(walk.steps) <= len(questions)
    assert code_exists("ONDERHOUDSPECIALISME", outcome.specialism)
    assert code_exists("DEFECTSOORT", outcome.defect_type or DEFAULTS[slug]["defect_type"])
    assert outcome.defect_location is None or code_exists("DEFECTLOCATIE", outcome.defect_location)
    assert 5 <= outcome.minutes <= 1440
    assert outcome.reason["nl"]
    assert outcome.reason["en"]


# --- installing the defaults --------------------------------------------------


def test_install_creates_every_default_tree(vera):
    written = triage_tree_install_defaults()

    assert written == len(DEFAULTS)
    leak = TriageTree.objects.get(slug="leak")
    assert (leak.title_nl, leak.title_en, leak.defect_type.code, leak.active) == (
        "Lekkage",
        "Leak",
        "LEK",
        True,
    )
    assert leak.definition == DEFAULTS["leak"]["definition"]
    assert list(TriageTree.objects.values_list("slug", flat=True)) == sorted(
        DEFAULTS, key=lambda slug: DEFAULTS[slug]["position"]
    )


def test_install_twice_keeps_the_edits_made_in_the_admin(vera):
    triage_tree_install_defaults()
    TriageTree.objects.filter(slug="leak").update(title_nl="Lekkage of wateroverlast", active=False)

    written = triage_tree_install_defaults()

    assert written == 0
    leak = TriageTree.objects.get(slug="leak")
    assert (leak.title_nl, leak.active) == ("Lekkage of wateroverlast", False)
    assert TriageTree.objects.count() == len(DEFAULTS)


def test_install_with_overwrite_resets_the_trees_but_not_whether_they_are_active(vera):
    triage_tree_install_defaults()
    TriageTree.objects.filter(slug="leak").update(
        title_nl="Lekkage of wateroverlast", definition={}, active=False
    )

    written = triage_tree_install_defaults(overwrite=True)

    assert written == len(DEFAULTS)
    leak = TriageTree.objects.get(slug="leak")
    assert (leak.title_nl, leak.definition, leak.active) == ("Lekkage", DEFAULTS["leak"]["definition"], False)


def test_install_needs_the_vera_codes_first(db):
    with pytest.raises(ApplicationError) as raised:
        triage_tree_install_defaults()

    assert raised.value.message == MESSAGE_VERA_NOT_LOADED
    assert TriageTree.objects.count() == 0


def write_defaults(directory: Path, **changes: Callable[[dict[str, Any]], None]) -> None:
    for slug in ("leak", "other"):
        data = copy.deepcopy(DEFAULTS[slug])
        if slug in changes:
            changes[slug](data)
        (directory / f"{slug}.json").write_text(json.dumps(data), encoding="utf-8")


def test_an_invalid_default_stops_the_install_naming_file_and_path(vera, tmp_path):
    def break_it(data: dict[str, Any]) -> None:
        data["definition"]["questions"]["source"]["answers"][0]["outcome"] = "nope"
        data["defect_type"] = "XXX"

    write_defaults(tmp_path, leak=break_it)

    with pytest.raises(ApplicationError) as raised:
        triage_tree_install_defaults(directory=tmp_path)

    assert str(raised.value) == (
        "Default triage tree leak.json is invalid:\n"
        "  $.defect_type: unknown VERA code 'XXX'\n"
        "  $.definition.questions.source.answers[0].outcome: no outcome nope"
    )
    assert TriageTree.objects.count() == 0


def test_a_broken_default_names_the_error_and_nothing_is_written(vera, tmp_path):
    write_defaults(tmp_path)
    (tmp_path / "other.json").write_text('{"slug": "other",', encoding="utf-8")

    with pytest.raises(ApplicationError) as raised:
        triage_tree_install_defaults(directory=tmp_path)

    assert str(raised.value) == (
        "Default triage tree other.json is invalid:\n"
        "  $: Expecting property name enclosed in double quotes: line 1 column 18 (char 17)"
    )
    assert TriageTree.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d.update(slug="lek"), "$.slug: must be 'leak', the name of the file"),
        (lambda d: d["title"].update(en=" "), "$.title.en: text missing"),
        (lambda d: d["hint"].update(nl="x" * 201), "$.hint.nl: at most 200 characters"),
        (lambda d: d.update(position=-1), "$.position: must be a whole number from 0 to 32767"),
        (lambda d: d.update(colour="blue"), "$.colour: unknown field"),
        (
            lambda d: d["definition"]["outcomes"]["flooding"].update(minutes=0),
            "$.definition.outcomes.flooding.minutes: must be whole minutes from 5 to 1440",
        ),
    ],
)
def test_default_file_errors_have_their_path(vera, tmp_path, change, error):
    write_defaults(tmp_path, leak=change)

    with pytest.raises(ApplicationError) as raised:
        triage_tree_install_defaults(directory=tmp_path)

    assert str(raised.value) == f"Default triage tree leak.json is invalid:\n  {error}"
    assert TriageTree.objects.count() == 0


def test_load_triage_defaults_command(vera, capsys):
    call_command("load_triage_defaults")
    call_command("load_triage_defaults")
    call_command("load_triage_defaults", "--overwrite")

    assert capsys.readouterr().out == (
        f"Default triage trees: {len(DEFAULTS)} created\n"
        "Default triage trees: 0 created\n"
        f"Default triage trees: {len(DEFAULTS)} created or reset\n"
    )


def test_load_triage_defaults_command_fails_clearly_without_vera(db):
    with pytest.raises(CommandError, match=r"Load the VERA codes first \(manage.py load_vera\)\."):
        call_command("load_triage_defaults")
