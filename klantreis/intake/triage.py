"""Triage trees: validating a tree and walking it with a customer's answers.

A tree is data (`TriageTree.definition`), edited by staff in the admin:

    {
      "start": "<question key>",
      "questions": {
        "<key>": {
          "text": {"nl": "...", "en": "..."},
          "answers": [
            {"key": "<key>", "label": {"nl": "...", "en": "..."},
             "next": "<question key>"}            # or
            {"key": "<key>", "label": {...}, "outcome": "<outcome key>"}
          ]
        }
      },
      "outcomes": {
        "<key>": {
          "urgency": "emergency" | "urgent" | "normal",
          "reason": {"nl": "...", "en": "..."},
          "specialism": "<VERA ONDERHOUDSPECIALISME code>",
          "minutes": 5..1440,
          "material": ["...", ...],                   # optional
          "defect_type": "<VERA DEFECTSOORT code>",   # optional: overrides the tree's
          "defect_location": "<VERA DEFECTLOCATIE>",  # optional: overrides the customer's
          "emergency_phone": "..."                    # optional: number to call instead
        }
      }
    }

Every answer leads to another question or to an outcome; there are no
cycles and no unreachable questions, so every walk ends in an outcome.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from klantreis.core.errors import ApplicationError
from klantreis.intake.models import RepairRequest

KEY_PATTERN = re.compile(r"^[a-z0-9_]{1,40}$")
LANGUAGES = ("nl", "en")
URGENCIES = tuple(RepairRequest.Urgency.values)
MIN_MINUTES = 5
MAX_MINUTES = 24 * 60
MAX_QUESTIONS = 50

MESSAGE_INVALID_ANSWER = gettext_lazy("Please choose one of the answers offered.")
MESSAGE_INVALID_TREE = gettext_lazy("This list of questions is broken; please call us.")


@dataclass(frozen=True)
class TreeError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def localised(text: Mapping[str, str]) -> str:
    """The text in the active language, falling back to Dutch."""
    return text.get(translation.get_language() or "nl") or text.get("nl", "")


def tree_validate(definition: Any, *, code_exists: Callable[[str, str], bool]) -> list[TreeError]:
    """All problems of a tree definition; an empty list means it is valid.

    `code_exists(kind, code)` answers whether a VERA code is known.
    """
    errors: list[TreeError] = []

    def error(path: str, message: str) -> None:
        errors.append(TreeError(path, message))

    if not isinstance(definition, dict):
        return [TreeError("$", _("the tree must be an object with start, questions and outcomes"))]
    unknown = set(definition) - {"start", "questions", "outcomes"}
    for key in sorted(unknown):
        error(f"$.{key}", _("unknown field"))
    questions = definition.get("questions")
    outcomes = definition.get("outcomes")
    if not isinstance(questions, dict) or not questions:
        error("$.questions", _("must be an object with at least one question"))
        questions = {}
    if not isinstance(outcomes, dict) or not outcomes:
        error("$.outcomes", _("must be an object with at least one outcome"))
        outcomes = {}
    if len(questions) > MAX_QUESTIONS:
        error("$.questions", _("at most %(max)d questions") % {"max": MAX_QUESTIONS})
    start = definition.get("start")
    if not isinstance(start, str) or start not in questions:
        error("$.start", _("must name one of the questions"))

    for key, question in questions.items():
        path = f"$.questions.{key}"
        if not KEY_PATTERN.match(str(key)):
            error(path, _("key may only hold a-z, 0-9 and _ (at most 40)"))
        if not isinstance(question, dict):
            error(path, _("must be an object with text and answers"))
            continue
        for extra in sorted(set(question) - {"text", "answers"}):
            error(f"{path}.{extra}", _("unknown field"))
        _check_text(question.get("text"), f"{path}.text", error)
        answers = question.get("answers")
        if not isinstance(answers, list) or len(answers) < 2:
            error(f"{path}.answers", _("needs at least two answers"))
            continue
        seen: set[str] = set()
        for index, answer in enumerate(answers):
            apath = f"{path}.answers[{index}]"
            if not isinstance(answer, dict):
                error(apath, _("must be an object with key, label and next or outcome"))
                continue
            for extra in sorted(set(answer) - {"key", "label", "next", "outcome"}):
                error(f"{apath}.{extra}", _("unknown field"))
            akey = answer.get("key")
            if not isinstance(akey, str) or not KEY_PATTERN.match(akey):
                error(f"{apath}.key", _("key may only hold a-z, 0-9 and _ (at most 40)"))
            elif akey in seen:
                error(f"{apath}.key", _("answer key %(key)s is used twice") % {"key": akey})
            else:
                seen.add(akey)
            _check_text(answer.get("label"), f"{apath}.label", error)
            has_next, has_outcome = "next" in answer, "outcome" in answer
            if has_next == has_outcome:
                error(apath, _("needs either next or outcome, not both and not neither"))
            # A list or object as a key would not even be hashable: check the type first.
            elif has_next and (not isinstance(answer["next"], str) or answer["next"] not in questions):
                error(f"{apath}.next", _("no question %(key)s") % {"key": answer["next"]})
            elif has_outcome and (
                not isinstance(answer["outcome"], str) or answer["outcome"] not in outcomes
            ):
                error(f"{apath}.outcome", _("no outcome %(key)s") % {"key": answer["outcome"]})

    for key, outcome in outcomes.items():
        _check_outcome(key, outcome, error, code_exists)

    if not errors:
        _check_graph(definition, error)
    return errors


def _check_text(text: Any, path: str, error: Callable[[str, str], None]) -> None:
    if not isinstance(text, dict):
        error(path, _("must give the text in Dutch (nl) and English (en)"))
        return
    for language in LANGUAGES:
        value = text.get(language)
        if not isinstance(value, str) or not value.strip():
            error(f"{path}.{language}", _("text missing"))
        elif len(value) > 300:
            error(f"{path}.{language}", _("at most 300 characters"))


def _check_outcome(
    key: str,
    outcome: Any,
    error: Callable[[str, str], None],
    code_exists: Callable[[str, str], bool],
) -> None:
    path = f"$.outcomes.{key}"
    if not KEY_PATTERN.match(str(key)):
        error(path, _("key may only hold a-z, 0-9 and _ (at most 40)"))
    if not isinstance(outcome, dict):
        error(path, _("must be an object"))
        return
    allowed = {
        "urgency", "reason", "specialism", "minutes", "material",
        "defect_type", "defect_location", "emergency_phone",
    }  # fmt: skip
    for extra in sorted(set(outcome) - allowed):
        error(f"{path}.{extra}", _("unknown field"))
    if outcome.get("urgency") not in URGENCIES:
        error(f"{path}.urgency", _("must be one of %(values)s") % {"values": ", ".join(URGENCIES)})
    _check_text(outcome.get("reason"), f"{path}.reason", error)
    specialism = outcome.get("specialism")
    if not isinstance(specialism, str) or not code_exists("ONDERHOUDSPECIALISME", specialism):
        error(f"{path}.specialism", _("unknown VERA specialism %(code)r") % {"code": specialism})
    minutes = outcome.get("minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not MIN_MINUTES <= minutes <= MAX_MINUTES:
        error(
            f"{path}.minutes",
            _("must be whole minutes from %(min)d to %(max)d") % {"min": MIN_MINUTES, "max": MAX_MINUTES},
        )
    material = outcome.get("material", [])
    if not isinstance(material, list) or not all(isinstance(m, str) and 0 < len(m) <= 100 for m in material):
        error(f"{path}.material", _("must be a list of short texts"))
    for field_name, kind in (("defect_type", "DEFECTSOORT"), ("defect_location", "DEFECTLOCATIE")):
        if field_name in outcome:
            code = outcome[field_name]
            if not isinstance(code, str) or not code_exists(kind, code):
                error(f"{path}.{field_name}", _("unknown VERA code %(code)r") % {"code": code})
    phone = outcome.get("emergency_phone")
    if phone is not None and (not isinstance(phone, str) or not re.fullmatch(r"[0-9 +\-]{3,20}", phone)):
        error(f"{path}.emergency_phone", _("must be a phone number"))


def _check_graph(definition: dict[str, Any], error: Callable[[str, str], None]) -> None:
    questions: dict[str, Any] = definition["questions"]
    reachable: set[str] = set()
    # Depth-first with an explicit "on the current path" set finds cycles.
    on_path: set[str] = set()

    def visit(key: str) -> None:
        if key in on_path:
            error(f"$.questions.{key}", _("the questions go round in a circle"))
            return
        if key in reachable:
            return
        reachable.add(key)
        on_path.add(key)
        for answer in questions[key]["answers"]:
            if "next" in answer:
                visit(answer["next"])
        on_path.discard(key)

    visit(definition["start"])
    for key in questions:
        if key not in reachable:
            error(f"$.questions.{key}", _("no answer leads to this question"))


@dataclass(frozen=True)
class Step:
    question_key: str
    question: str
    answer_key: str
    answer: str


@dataclass(frozen=True)
class Outcome:
    key: str
    urgency: str
    reason: dict[str, str]
    specialism: str
    minutes: int
    material: list[str]
    defect_type: str | None
    defect_location: str | None
    emergency_phone: str | None

    @property
    def is_emergency(self) -> bool:
        return self.urgency == RepairRequest.Urgency.EMERGENCY

    @property
    def reason_text(self) -> str:
        return localised(self.reason)


@dataclass(frozen=True)
class Walk:
    """Where a customer is in a tree after their answers so far."""

    steps: list[Step] = field(default_factory=list)
    next_question_key: str | None = None
    outcome: Outcome | None = None

    def as_record(self) -> list[dict[str, str]]:
        """The answers as stored on the request (texts in the reporter's language)."""
        return [
            {
                "question_key": s.question_key,
                "question": s.question,
                "answer_key": s.answer_key,
                "answer": s.answer,
            }
            for s in self.steps
        ]


def tree_walk(definition: dict[str, Any], answers: Mapping[str, str]) -> Walk:
    """Follow `answers` (question key → answer key) from the start.

    Answers to questions off the path are ignored (the customer went back and
    chose differently). An answer key the question does not have is an error.
    """
    steps: list[Step] = []
    key: str = definition["start"]
    questions = definition["questions"]
    for _depth in range(len(questions) + 1):
        question = questions[key]
        chosen = answers.get(key)
        if chosen is None:
            return Walk(steps=steps, next_question_key=key)
        answer = next((a for a in question["answers"] if a["key"] == chosen), None)
        if answer is None:
            raise ApplicationError(MESSAGE_INVALID_ANSWER, field=f"answer_{key}")
        steps.append(Step(key, localised(question["text"]), chosen, localised(answer["label"])))
        if "outcome" in answer:
            raw = definition["outcomes"][answer["outcome"]]
            outcome = Outcome(
                key=answer["outcome"],
                urgency=raw["urgency"],
                reason=raw["reason"],
                specialism=raw["specialism"],
                minutes=raw["minutes"],
                material=list(raw.get("material", [])),
                defect_type=raw.get("defect_type"),
                defect_location=raw.get("defect_location"),
                emergency_phone=raw.get("emergency_phone"),
            )
            return Walk(steps=steps, outcome=outcome)
        key = answer["next"]
    raise ApplicationError(MESSAGE_INVALID_TREE)
