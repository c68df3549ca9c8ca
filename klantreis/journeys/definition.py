"""Journey definitions: versioned YAML, checked against a schema and then for
meaning, read into frozen dataclasses the runtime works from.

Errors name the line, the field (as a path such as
``touchpoints[2].at``) and the reason, so a designer can fix the text they
edited. See docs/journeys.md for the format.
"""

import string
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jsonschema
import yaml

from klantreis.journeys.timing import ANCHOR_NAME, Timing, TimingError, timing_parse

LANGUAGES = ("nl", "en")
CHANNELS = ("preferred", "email", "sms", "whatsapp", "inapp")
LAYERS = ("digital", "human", "physical")
OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not_in")
SURVEYS = ("csat", "nps", "ces", "moment")
# The short "how was this moment?" question is asked on its own, about its touchpoint.
MOMENT = "moment"
ATTACHMENTS = ("appointment_ics",)
# What a message template may say; the runtime fills these in the customer's language.
PLACEHOLDERS = frozenset(
    {
        "name",
        "reference",
        "organisation",
        "phone",
        "window",
        "eta",
        "link",
        "rebook_link",
        "survey_link",
    }
)
EVENT_ANCHOR = "event"
MAX_SOURCE_BYTES = 200_000

_ACTIVITY = r"^[a-z][a-z_]*\.[a-z][a-z_]*$"
_TEXT = {"type": "object", "required": list(LANGUAGES), "additionalProperties": False}
_TEXT["properties"] = {lang: {"type": "string", "minLength": 1, "maxLength": 200} for lang in LANGUAGES}
_DURATION = {"type": "string", "pattern": r"^\d{1,4}(m|h|d)$"}
_CONDITION = {
    "type": "object",
    "required": ["attribute", "op", "value"],
    "additionalProperties": False,
    "properties": {
        "attribute": {"type": "string", "pattern": r"^[a-z][a-z_]*$"},
        "op": {"enum": list(OPERATORS)},
        "value": {},
    },
}
# Every item must hold; an item `{any: [...]}` holds when one of its conditions does.
_ANY = {
    "type": "object",
    "required": ["any"],
    "additionalProperties": False,
    "properties": {"any": {"type": "array", "minItems": 1, "items": _CONDITION}},
}
_CONDITIONS = {
    "type": "array",
    "items": {"if": {"type": "object", "required": ["any"]}, "then": _ANY, "else": _CONDITION},
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["key", "name", "trigger", "touchpoints"],
    "additionalProperties": False,
    "properties": {
        "key": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,39}$"},
        "name": _TEXT,
        "description": {"type": "string", "maxLength": 2000},
        "trigger": {"type": "string", "pattern": _ACTIVITY},
        "ends_on": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["when"],
                "additionalProperties": False,
                "properties": {"when": {"type": "string", "pattern": _ACTIVITY}, "if": _CONDITIONS},
            },
        },
        "anchors": {
            "type": "object",
            "propertyNames": {"pattern": f"^{ANCHOR_NAME}$", "maxLength": 64},
            "additionalProperties": {
                "type": "object",
                "required": ["events", "attribute"],
                "additionalProperties": False,
                "properties": {
                    "events": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"type": "string", "pattern": _ACTIVITY},
                    },
                    "attribute": {"type": "string", "pattern": r"^[a-z][a-z_]*$"},
                },
            },
        },
        "touchpoints": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["id", "name", "layer", "attention", "when", "at"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,39}$"},
                    "name": _TEXT,
                    "layer": {"enum": list(LAYERS)},
                    "attention": {"enum": ["spare", "grab"]},
                    "peak": {"type": "boolean"},
                    "end": {"type": "boolean"},
                    "sentiment": {"type": "integer", "minimum": -2, "maximum": 2},
                    "when": {"type": "string", "pattern": _ACTIVITY},
                    "at": {"type": "string", "maxLength": 200},
                    "expires": {"type": "string", "maxLength": 200},
                    "if": _CONDITIONS,
                    "cancel_on": {
                        "type": "array",
                        "uniqueItems": True,
                        "items": {"type": "string", "pattern": _ACTIVITY},
                    },
                    "channels": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"enum": list(CHANNELS)},
                    },
                    "fallback_after": _DURATION,
                    "essential": {"type": "boolean"},
                    "ignore_quiet_hours": {"type": "boolean"},
                    "attach": {"type": "array", "uniqueItems": True, "items": {"enum": list(ATTACHMENTS)}},
                    # One kind, or several asked together on one page ([csat, nps, ces]).
                    "survey": {
                        "if": {"type": "string"},
                        "then": {"enum": list(SURVEYS)},
                        "else": {
                            "type": "array",
                            "minItems": 1,
                            "uniqueItems": True,
                            "items": {"enum": list(SURVEYS)},
                        },
                    },
                    "message": {
                        "type": "object",
                        "required": list(LANGUAGES),
                        "additionalProperties": False,
                        "properties": {
                            lang: {
                                "type": "object",
                                "required": ["subject", "text"],
                                "additionalProperties": False,
                                "properties": {
                                    "subject": {"type": "string", "minLength": 1, "maxLength": 200},
                                    "text": {"type": "string", "minLength": 1, "maxLength": 2000},
                                },
                            }
                            for lang in LANGUAGES
                        },
                    },
                    "task": {
                        "type": "object",
                        "required": ["queue", "deadline", "title"],
                        "additionalProperties": False,
                        "properties": {
                            "queue": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,39}$"},
                            "deadline": {"type": "string", "maxLength": 200},
                            "title": _TEXT,
                        },
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True)
class DefinitionProblem:
    line: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line is not None else ""
        return f"{where}{self.field or '(top)'}: {self.reason}"


class DefinitionError(ValueError):
    def __init__(self, problems: list[DefinitionProblem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class Condition:
    attribute: str
    op: str
    value: Any

    def holds(self, attributes: dict[str, Any]) -> bool:
        if self.attribute not in attributes:
            return False
        actual = attributes[self.attribute]
        try:
            match self.op:
                case "==":
                    return bool(actual == self.value)
                case "!=":
                    return bool(actual != self.value)
                case "<":
                    return bool(actual < self.value)
                case "<=":
                    return bool(actual <= self.value)
                case ">":
                    return bool(actual > self.value)
                case ">=":
                    return bool(actual >= self.value)
                case "in":
                    return actual in self.value
                case "not_in":
                    return actual not in self.value
        except TypeError:
            return False
        return False  # pragma: no cover - the schema allows no other operator


@dataclass(frozen=True)
class AnyCondition:
    """Holds when one of its conditions does (`{any: [...]}` in a definition)."""

    conditions: tuple[Condition, ...]

    def holds(self, attributes: dict[str, Any]) -> bool:
        return any(condition.holds(attributes) for condition in self.conditions)


def _conditions(raw: list[dict[str, Any]]) -> tuple[Condition | AnyCondition, ...]:
    return tuple(
        AnyCondition(tuple(Condition(**c) for c in item["any"])) if "any" in item else Condition(**item)
        for item in raw
    )


@dataclass(frozen=True)
class EndRule:
    when: str
    conditions: tuple[Condition | AnyCondition, ...] = ()

    def matches(self, activity: str, attributes: dict[str, Any]) -> bool:
        return activity == self.when and all(c.holds(attributes) for c in self.conditions)


@dataclass(frozen=True)
class MessageTemplate:
    subject: str
    text: str

    def render(self, values: dict[str, str]) -> tuple[str, str]:
        return self.subject.format_map(values), self.text.format_map(values)


@dataclass(frozen=True)
class StaffTaskSpec:
    queue: str
    deadline: Timing
    title: dict[str, str]


@dataclass(frozen=True)
class AnchorSpec:
    events: tuple[str, ...]
    attribute: str


@dataclass(frozen=True)
class TouchpointSpec:
    id: str
    name: dict[str, str]
    layer: str
    attention: str
    when: str
    at: Timing
    peak: bool = False
    end: bool = False
    sentiment: int | None = None
    expires: Timing | None = None
    conditions: tuple[Condition | AnyCondition, ...] = ()
    cancel_on: frozenset[str] = frozenset()
    channels: tuple[str, ...] = ("preferred", "email", "inapp")
    fallback_after: timedelta = timedelta(minutes=10)
    essential: bool = False
    ignore_quiet_hours: bool = False
    attach: tuple[str, ...] = ()
    # The survey kinds the message's {survey_link} asks, in page order; () for none.
    survey: tuple[str, ...] = ()
    message: dict[str, MessageTemplate] = field(default_factory=dict)
    task: StaffTaskSpec | None = None

    def anchors_used(self) -> set[str]:
        used = {self.at.anchor}
        if self.expires is not None:
            used.add(self.expires.anchor)
        return used


@dataclass(frozen=True)
class JourneySpec:
    key: str
    name: dict[str, str]
    trigger: str
    touchpoints: tuple[TouchpointSpec, ...]
    anchors: dict[str, AnchorSpec] = field(default_factory=dict)
    ends_on: tuple[EndRule, ...] = ()
    description: str = ""

    def touchpoint(self, touchpoint_id: str) -> TouchpointSpec:
        for touchpoint in self.touchpoints:
            if touchpoint.id == touchpoint_id:
                return touchpoint
        raise KeyError(touchpoint_id)

    def activities(self) -> set[str]:
        """Every event activity this journey listens to."""
        names = {self.trigger} | {rule.when for rule in self.ends_on}
        for anchor in self.anchors.values():
            names |= set(anchor.events)
        for touchpoint in self.touchpoints:
            names |= {touchpoint.when} | set(touchpoint.cancel_on)
        return names


def _duration(text: str) -> timedelta:
    amount, unit = int(text[:-1]), text[-1]
    return timedelta(minutes=amount) * {"m": 1, "h": 60, "d": 24 * 60}[unit]


class _LineLoader(yaml.SafeLoader):
    """Safe YAML that remembers the line of every mapping and list."""


def _path(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _lines(
    node: yaml.Node, parts: list[str | int], found: dict[str, int], problems: list[DefinitionProblem]
) -> None:
    found[_path(parts)] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in keys:
                path = _path([*parts, key])
                problems.append(
                    DefinitionProblem(key_node.start_mark.line + 1, path, "this key is given twice")
                )
            keys.add(key)
            _lines(value_node, [*parts, key], found, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, [*parts, index], found, problems)


def _line_for(lines: dict[str, int], path: str) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("")


def definition_parse(source: str) -> JourneySpec:
    """Read and check a definition; raises DefinitionError with every problem found."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise DefinitionError(
            [DefinitionProblem(None, "", f"the definition is larger than {MAX_SOURCE_BYTES // 1000} kB")]
        )
    try:
        # Aliases are refused before anything is built: nested ones grow
        # exponentially when followed (a "billion laughs" text).
        for event in yaml.parse(source, Loader=_LineLoader):
            if isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1 if event.start_mark else None
                raise DefinitionError(
                    [DefinitionProblem(line, "", "YAML aliases (*name) are not allowed; write the value out")]
                )
        node = yaml.compose(source, Loader=_LineLoader)
        data = yaml.load(source, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        raise DefinitionError([DefinitionProblem(line, "", f"not valid YAML: {reason}")]) from None
    lines: dict[str, int] = {}
    duplicates: list[DefinitionProblem] = []
    if node is not None:
        _lines(node, [], lines, duplicates)
    if duplicates:
        raise DefinitionError(duplicates)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems = [
        DefinitionProblem(
            _line_for(lines, _path(list(error.absolute_path))),
            _path(list(error.absolute_path)),
            error.message,
        )
        for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    if problems:
        raise DefinitionError(problems)
    return _build(data, lines)


def _build(data: dict[str, Any], lines: dict[str, int]) -> JourneySpec:
    problems: list[DefinitionProblem] = []

    def problem(path: str, reason: str) -> None:
        problems.append(DefinitionProblem(_line_for(lines, path), path, reason))

    def timing(path: str, text: str) -> Timing | None:
        try:
            parsed = timing_parse(text)
        except TimingError as error:
            problem(path, str(error))
            return None
        if parsed.anchor != EVENT_ANCHOR and parsed.anchor not in anchors:
            known = ", ".join(sorted([EVENT_ANCHOR, *anchors]))
            problem(path, f"unknown anchor {parsed.anchor!r}; known anchors: {known}")
            return None
        return parsed

    anchors = {
        name: AnchorSpec(events=tuple(spec["events"]), attribute=spec["attribute"])
        for name, spec in (data.get("anchors") or {}).items()
    }
    touchpoints: list[TouchpointSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["touchpoints"]):
        base = f"touchpoints[{index}]"
        if raw["id"] in seen:
            problem(f"{base}.id", f"the id {raw['id']!r} is used twice; touchpoint ids must be unique")
        seen.add(raw["id"])
        at = timing(f"{base}.at", raw["at"])
        expires = timing(f"{base}.expires", raw["expires"]) if "expires" in raw else None
        task = None
        if raw["layer"] == "human":
            if "task" not in raw:
                problem(base, "a human touchpoint needs a task (queue, deadline, title)")
            if "message" in raw:
                problem(f"{base}.message", "a human touchpoint creates a task, it sends no message")
        elif "message" not in raw and raw["layer"] == "digital":
            problem(base, "a digital touchpoint needs a message in every language (nl, en)")
        if "task" in raw:
            if raw["layer"] != "human":
                problem(f"{base}.task", "only a human touchpoint creates a task")
            deadline = timing(f"{base}.task.deadline", raw["task"]["deadline"])
            if deadline is not None:
                task = StaffTaskSpec(
                    queue=raw["task"]["queue"], deadline=deadline, title=raw["task"]["title"]
                )
        message: dict[str, MessageTemplate] = {}
        for language, template in (raw.get("message") or {}).items():
            for part in ("subject", "text"):
                path = f"{base}.message.{language}.{part}"
                try:
                    names = {name for _, name, _, _ in string.Formatter().parse(template[part]) if name}
                except ValueError as error:
                    problem(path, f"braces do not match ({error}); write {{{{ or }}}} for a brace itself")
                    continue
                unknown = sorted(names - PLACEHOLDERS)
                if unknown:
                    problem(
                        path,
                        f"unknown placeholder {{{unknown[0]}}}; use one of "
                        + ", ".join(f"{{{name}}}" for name in sorted(PLACEHOLDERS)),
                    )
            message[language] = MessageTemplate(subject=template["subject"], text=template["text"])
        raw_survey = raw.get("survey", [])
        survey = (raw_survey,) if isinstance(raw_survey, str) else tuple(raw_survey)
        with_link = [lang for lang, t in message.items() if "survey_link" in t.text]
        if with_link and not survey:
            problem(
                f"{base}.message",
                "{survey_link} needs 'survey: csat' (or nps, ces, moment) on the touchpoint",
            )
        if survey:
            if MOMENT in survey and len(survey) > 1:
                problem(f"{base}.survey", "'moment' is a question on its own; ask it without other kinds")
            if raw["layer"] != "digital":
                problem(f"{base}.survey", "only a digital touchpoint can send a survey link")
            elif message and len(with_link) < len(message):
                missing = sorted(set(message) - set(with_link))
                problem(
                    f"{base}.message.{missing[0]}.text",
                    "a touchpoint with a survey puts {survey_link} in its text in every language",
                )
        if at is None or (task is None and raw["layer"] == "human"):
            continue
        if "expires" in raw and expires is None:
            continue
        touchpoints.append(
            TouchpointSpec(
                id=raw["id"],
                name=raw["name"],
                layer=raw["layer"],
                attention=raw["attention"],
                when=raw["when"],
                at=at,
                peak=raw.get("peak", False),
                end=raw.get("end", False),
                sentiment=raw.get("sentiment"),
                expires=expires,
                conditions=_conditions(raw.get("if", [])),
                cancel_on=frozenset(raw.get("cancel_on", [])),
                channels=tuple(raw.get("channels", ("preferred", "email", "inapp"))),
                fallback_after=_duration(raw.get("fallback_after", "10m")),
                essential=raw.get("essential", False),
                ignore_quiet_hours=raw.get("ignore_quiet_hours", False),
                attach=tuple(raw.get("attach", ())),
                survey=survey,
                message=message,
                task=task,
            )
        )
    if problems:
        raise DefinitionError(problems)
    return JourneySpec(
        key=data["key"],
        name=data["name"],
        trigger=data["trigger"],
        touchpoints=tuple(touchpoints),
        anchors=anchors,
        ends_on=tuple(
            EndRule(when=rule["when"], conditions=_conditions(rule.get("if", [])))
            for rule in data.get("ends_on", [])
        ),
        description=data.get("description", ""),
    )
