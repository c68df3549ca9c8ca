"""Admin for intake: triage trees are edited here (as JSON, validated);
VERA codes and repair requests are shown, not changed, because codes are
loaded data and every change to a request must go through a service that
writes its journey event."""

import json
import re
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from klantreis.intake.models import RepairRequest, RequestPhoto, TriageTree, VeraCode
from klantreis.intake.services import vera_code_checker
from klantreis.intake.triage import tree_validate

POSTCODE = re.compile(r"^\s*([1-9][0-9]{3})\s*([a-zA-Z]{2})\s*$")


OUTCOME_FIELDS = (
    "urgency", "reason", "specialism", "minutes", "material",
    "defect_type", "defect_location", "emergency_phone",
)  # fmt: skip


def _ordered(value: Any, order: tuple[str, ...]) -> Any:
    if not isinstance(value, dict):
        return value
    return {key: value[key] for key in order if key in value} | {
        key: item for key, item in value.items() if key not in order
    }


def tree_in_reading_order(definition: Any) -> Any:
    """The tree with questions in the order a customer meets them and every
    object's fields in the documented order. PostgreSQL's jsonb does not keep
    key order, so without this the editor would see a shuffled tree."""
    definition = _ordered(definition, ("start", "questions", "outcomes"))
    if not isinstance(definition, dict):
        return definition
    questions, outcomes = definition.get("questions"), definition.get("outcomes")
    if not isinstance(questions, dict) or not isinstance(outcomes, dict):
        return definition
    question_keys: list[str] = []
    outcome_keys: list[str] = []
    queue = [definition.get("start")]
    while queue:
        key = queue.pop(0)
        if not isinstance(key, str) or key not in questions or key in question_keys:
            continue
        question_keys.append(key)
        answers = questions[key].get("answers") if isinstance(questions[key], dict) else None
        for answer in answers if isinstance(answers, list) else []:
            if not isinstance(answer, dict):
                continue
            queue.append(answer.get("next"))
            target = answer.get("outcome")
            if isinstance(target, str) and target in outcomes and target not in outcome_keys:
                outcome_keys.append(target)
    question_keys += [key for key in questions if key not in question_keys]
    outcome_keys += [key for key in outcomes if key not in outcome_keys]

    return definition | {
        "questions": {key: _question(questions[key]) for key in question_keys},
        "outcomes": {key: _outcome(outcomes[key]) for key in outcome_keys},
    }


def _text(value: Any) -> Any:
    return _ordered(value, ("nl", "en"))


def _question(value: Any) -> Any:
    question = _ordered(value, ("text", "answers"))
    if isinstance(question, dict):
        if "text" in question:
            question["text"] = _text(question["text"])
        if isinstance(question.get("answers"), list):
            question["answers"] = [_answer(answer) for answer in question["answers"]]
    return question


def _answer(value: Any) -> Any:
    answer = _ordered(value, ("key", "label", "next", "outcome"))
    if isinstance(answer, dict) and "label" in answer:
        answer["label"] = _text(answer["label"])
    return answer


def _outcome(value: Any) -> Any:
    outcome = _ordered(value, OUTCOME_FIELDS)
    if isinstance(outcome, dict) and "reason" in outcome:
        outcome["reason"] = _text(outcome["reason"])
    return outcome


class TreeDefinitionField(forms.JSONField):
    """The tree as indented JSON text; a syntax error says where it is."""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, InvalidJSONInput):
            return value
        if value is None:
            return ""
        return json.dumps(tree_in_reading_order(value), ensure_ascii=False, indent=2)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str):
            try:
                json.loads(value)
            except json.JSONDecodeError as error:
                raise ValidationError(
                    _("$: this is not valid JSON: %(problem)s (line %(line)d, column %(column)d)"),
                    code="invalid",
                    params={"problem": error.msg, "line": error.lineno, "column": error.colno},
                ) from error
        return super().to_python(value)


class TriageTreeForm(forms.ModelForm[TriageTree]):
    definition = TreeDefinitionField(
        label=_("Questions and outcomes"),
        help_text=_(
            "The questions, answers and outcomes as JSON; see docs/triage.md. "
            "The tree is checked before it is saved."
        ),
        widget=forms.Textarea(attrs={"rows": 30, "cols": 100, "spellcheck": "false"}),
    )

    class Meta:
        model = TriageTree
        fields = [
            "slug", "title_nl", "title_en", "hint_nl", "hint_en",
            "defect_type", "position", "active", "definition",
        ]  # fmt: skip

    def clean_definition(self) -> Any:
        definition = self.cleaned_data["definition"]
        errors = tree_validate(definition, code_exists=vera_code_checker())
        if errors:
            raise ValidationError([ValidationError(str(error), code="invalid_tree") for error in errors])
        return definition


@admin.register(TriageTree)
class TriageTreeAdmin(admin.ModelAdmin[TriageTree]):
    form = TriageTreeForm
    list_display = ["title_nl", "title_en", "slug", "defect_type", "position", "active"]
    list_filter = ["active"]
    search_fields = ["slug", "title_nl", "title_en"]
    ordering = ["position", "slug"]
    readonly_fields = ["outcome_summary"]
    fieldsets = [
        (None, {"fields": ["slug", "title_nl", "title_en", "hint_nl", "hint_en"]}),
        (None, {"fields": ["defect_type", "position", "active"]}),
        (_("Triage"), {"fields": ["definition", "outcome_summary"]}),
    ]

    class Media:
        css = {"all": ["intake/admin-triage.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[TriageTree]:
        return super().get_queryset(request).select_related("defect_type")

    @admin.display(description=_("outcomes (as saved)"))
    def outcome_summary(self, tree: TriageTree) -> SafeString:
        definition = tree_in_reading_order(tree.definition)
        outcomes = definition.get("outcomes", {}) if isinstance(definition, dict) else {}
        if not outcomes:
            return SafeString("–")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    key,
                    outcome.get("urgency", ""),
                    outcome.get("specialism", ""),
                    outcome.get("minutes", ""),
                    outcome.get("emergency_phone", ""),
                )
                for key, outcome in outcomes.items()
                if isinstance(outcome, dict)
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("outcome"),
            _("urgency"),
            _("specialism"),
            _("minutes"),
            _("phone"),
            rows,
        )


@admin.register(VeraCode)
class VeraCodeAdmin(admin.ModelAdmin[VeraCode]):
    """Loaded from the VERA release by `load_vera`; edits would be overwritten."""

    list_display = ["code", "name", "name_en", "kind", "valid_until"]
    list_filter = ["kind"]
    search_fields = ["code", "name", "name_en"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: VeraCode | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: VeraCode | None = None) -> bool:
        return False


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RequestPhotoInline(ReadOnlyMixin, admin.TabularInline[RequestPhoto, RepairRequest]):
    model = RequestPhoto
    extra = 0
    fields = ["photo", "content_type", "size_bytes", "width", "height", "uploaded_at", "uploaded_by"]
    readonly_fields = ["photo", "content_type", "size_bytes", "width", "height", "uploaded_at", "uploaded_by"]

    @admin.display(description=_("photo"))
    def photo(self, photo: RequestPhoto) -> str:
        try:
            url = reverse(
                "workspace:request_photo",
                kwargs={"reference": photo.request.reference, "photo_id": photo.pk},
            )
        except NoReverseMatch:
            return str(photo)
        return format_html('<a href="{}">{}</a>', url, _("open"))


@admin.register(RepairRequest)
class RepairRequestAdmin(ReadOnlyMixin, admin.ModelAdmin[RepairRequest]):
    """Read-only: status changes and new requests go through the intake
    services, which record the journey events the admin would skip."""

    list_display = [
        "reference",
        "reported_at",
        "customer",
        "home",
        "defect_type",
        "urgency",
        "status",
        "channel",
    ]
    list_filter = ["status", "urgency", "channel"]
    search_fields = ["reference", "home__postcode"]
    date_hierarchy = "reported_at"
    list_select_related = ["customer", "home", "defect_type"]
    inlines = [RequestPhotoInline]
    fieldsets = [
        (
            None,
            {"fields": ["reference", "status", "home", "customer", "reported_by", "channel", "reported_at"]},
        ),
        (
            _("Problem"),
            {"fields": ["description", "defect_type", "defect_location", "specialism"]},
        ),
        (
            _("Triage"),
            {
                "fields": [
                    "triage_tree",
                    "answers",
                    "urgency",
                    "urgency_reason",
                    "estimated_minutes",
                    "material_list",
                    "agent_notes",
                ]
            },
        ),  # fmt: skip
    ]
    readonly_fields = ["answers", "material_list"]

    @admin.display(description=_("triage answers"))
    def answers(self, request: RepairRequest) -> SafeString:
        steps = [step for step in request.triage_answers if isinstance(step, dict)]
        if not steps:
            return SafeString("–")
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                "<li>{} <strong>{}</strong></li>",
                ((step.get("question", ""), step.get("answer", "")) for step in steps),
            ),
        )

    @admin.display(description=_("material"))
    def material_list(self, request: RepairRequest) -> str:
        return ", ".join(str(item) for item in request.material) or "–"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[RepairRequest], search_term: str
    ) -> tuple[QuerySet[RepairRequest], bool]:
        # Postcodes are stored as "3512AB"; people type "3512 ab".
        match = POSTCODE.match(search_term)
        if match:
            search_term = (match.group(1) + match.group(2)).upper()
        return super().get_search_results(request, queryset, search_term)
