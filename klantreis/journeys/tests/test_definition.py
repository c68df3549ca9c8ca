"""Journey definitions: the shipped one is valid; broken ones are refused
with line, field and reason; the running version keeps running."""

from pathlib import Path

import pytest

from klantreis.core.errors import ApplicationError
from klantreis.journeys.definition import DefinitionError, definition_parse
from klantreis.journeys.models import JourneyDefinition
from klantreis.journeys.services import definition_save, definitions_install_defaults

REPAIR = (Path(__file__).resolve().parents[1] / "data" / "repair.yaml").read_text()
ATTENTION_LINE = REPAIR.splitlines().index("    attention: spare") + 1


def problems(source: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        definition_parse(source)
    return [str(problem) for problem in caught.value.problems]


def test_the_shipped_repair_journey_is_valid() -> None:
    spec = definition_parse(REPAIR)
    assert spec.key == "repair"
    assert spec.trigger == "request.reported"
    ids = [touchpoint.id for touchpoint in spec.touchpoints]
    assert ids[:3] == ["received", "confirmation", "reschedule_confirmation"]
    assert {"reminder", "on_the_way", "not_fixed", "not_home", "survey", "callback"} <= set(ids)
    reminder = spec.touchpoint("reminder")
    assert str(reminder.at) == "appointment.start - 1d @18:00"
    assert "appointment.cancelled" in reminder.cancel_on
    callback = spec.touchpoint("callback")
    assert callback.layer == "human"
    assert callback.task is not None
    assert callback.task.queue == "callbacks"
    assert spec.touchpoint("on_the_way").peak
    assert spec.touchpoint("survey").end


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("attention: spare", "attention: maybe"),
            f"line {ATTENTION_LINE}, touchpoints[0].attention: 'maybe' is not one of",
        ),
        (
            ("at: appointment.start - 1d @18:00", "at: appointment.begin - 1d"),
            "touchpoints[3].at: unknown anchor 'appointment.begin'",
        ),
        (('{reference})"', '{ref})"'), "touchpoints[0].message.nl.subject: unknown placeholder {ref}"),
        (("at: event + 1h", "at: event + 1y"), "touchpoints[6].at: cannot read 'event + 1y'"),
        (("id: callback", "id: survey"), "touchpoints[9].id: the id 'survey' is used twice"),
        (("key: repair", "key: repair\nkey: other"), "line 5, key: this key is given twice"),
        (("trigger: request.reported", "trigger: 5"), "trigger: 5 is not of type 'string'"),
        (("      deadline: event + 1wd\n", ""), "touchpoints[9].task: 'deadline' is a required property"),
        (("layer: human", "layer: digital"), "touchpoints[9].task: only a human touchpoint creates a task"),
        (("    when: request.reported\n", ""), "touchpoints[0]: 'when' is a required property"),
    ],
)
def test_broken_definitions_say_line_field_and_reason(change: tuple[str, str], expected: str) -> None:
    assert change[0] in REPAIR
    found = problems(REPAIR.replace(*change, 1))
    assert any(expected in problem for problem in found), found


@pytest.mark.parametrize(
    "source",
    [
        "",
        "just text",
        "key: [unclosed",
        "- a\n- b",
        "key: repair\n  bad indent: 1\n",
        "!!python/object:os.system {}",
    ],
)
def test_hostile_or_broken_yaml_is_refused_not_run(source: str) -> None:
    assert problems(source)


def test_a_huge_definition_is_refused() -> None:
    assert "larger than" in problems("# " + "x" * 300_000)[0]


@pytest.mark.django_db
def test_an_invalid_edit_keeps_the_running_version() -> None:
    (first,) = definitions_install_defaults()
    with pytest.raises(ApplicationError) as caught:
        definition_save(source=REPAIR.replace("attention: spare", "attention: maybe", 1), actor=None)
    assert caught.value.extra["problems"][0].line == ATTENTION_LINE
    active = JourneyDefinition.objects.get(key="repair", active=True)
    assert active.pk == first.pk
    assert active.version == 1


@pytest.mark.django_db
def test_a_valid_edit_becomes_the_next_active_version() -> None:
    definitions_install_defaults()
    second = definition_save(
        source=REPAIR.replace("Melding ontvangen", "Melding binnen", 1), actor=None, note="tone"
    )
    assert second.version == 2
    assert second.active
    assert JourneyDefinition.objects.filter(key="repair", active=True).count() == 1
    assert definitions_install_defaults() == []  # never overwrites an edited journey


@pytest.mark.django_db
def test_load_journeys_installs_once() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("load_journeys", stdout=out)
    call_command("load_journeys", stdout=out)
    assert "installed repair v1" in out.getvalue()
    assert "nothing to install" in out.getvalue()
    assert JourneyDefinition.objects.count() == 1


def test_nested_aliases_are_refused_at_once() -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    found = problems(bomb)
    assert found == ["line 2, (top): YAML aliases (*name) are not allowed; write the value out"]
