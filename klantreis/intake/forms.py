"""The report form shared by the customer portal and the agent's phone intake.

The form is a few steps on one URL: choose the problem, answer the triage
questions one at a time, then describe it and add photos. Everything chosen
so far travels along in the form itself, so it works without JavaScript,
nothing typed is lost when one step has an error, and the server walks the
tree again on every post.
"""

from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.core.errors import ApplicationError
from klantreis.customers.models import Customer, Home
from klantreis.intake.models import RepairRequest, TriageTree, VeraCode
from klantreis.intake.selectors import triage_tree_list, vera_code_list
from klantreis.intake.services import DESCRIPTION_MAX, NOTES_MAX, request_create
from klantreis.intake.triage import Walk, localised, tree_walk

ANSWER_PREFIX = "answer_"
# The rooms a tenant recognises; agents may pick any VERA defect location.
TENANT_LOCATIONS = [
    "KEU", "BAD", "TOI", "WOO", "SLA", "HAL", "OVL", "ZOL", "BER", "BAL", "TUI",
    "BUI", "DAK", "POR", "GAL", "TRI", "OVE",
]  # fmt: skip


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile[bytes]]:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultiplePhotoField, self).clean(item, initial) for item in files]


class TreeChoiceField(forms.ModelChoiceField[TriageTree]):
    def label_from_instance(self, obj: TriageTree) -> str:
        return obj.title


class VeraChoiceField(forms.ModelChoiceField[VeraCode]):
    def label_from_instance(self, obj: VeraCode) -> str:
        return obj.label


class ProblemForm(forms.Form):
    """Step one: where and what."""

    home = forms.ModelChoiceField(
        label=_("Address"), queryset=Home.objects.none(), empty_label=None, widget=forms.RadioSelect
    )
    tree = TreeChoiceField(
        label=_("What is the problem?"),
        queryset=TriageTree.objects.none(),
        to_field_name="slug",
        empty_label=None,
        widget=forms.RadioSelect,
        error_messages={"required": _("Please choose what the problem is.")},
    )
    location = VeraChoiceField(
        label=_("Where is it?"),
        queryset=VeraCode.objects.none(),
        to_field_name="code",
        empty_label=_("Choose a place"),
        error_messages={"required": _("Please choose where the problem is.")},
    )

    def __init__(self, *args: Any, homes: QuerySet[Home], all_locations: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        home_field = cast(forms.ModelChoiceField[Any], self.fields["home"])
        home_field.queryset = homes
        if homes.count() == 1:
            home_field.widget = forms.HiddenInput()
            home_field.initial = homes.first()
        tree_field = cast(forms.ModelChoiceField[Any], self.fields["tree"])
        tree_field.queryset = triage_tree_list()
        location_field = cast(forms.ModelChoiceField[Any], self.fields["location"])
        locations = vera_code_list(kind=VeraCode.Kind.DEFECT_LOCATION)
        if not all_locations:
            locations = locations.filter(code__in=TENANT_LOCATIONS)
        location_field.queryset = locations.order_by("name")


class DetailsForm(forms.Form):
    """The last step: in the customer's own words, with photos."""

    description = forms.CharField(
        label=_("Describe the problem"),
        help_text=_("What do you see, since when, and anything the technician should know."),
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={
            "required": _("Please describe the problem in a few words."),
            "max_length": _("Please keep the description under %(limit_value)d characters."),
        },
    )
    photos = MultiplePhotoField(
        label=_("Photos (optional)"),
        help_text=_("Up to 5 photos: JPEG, PNG or WebP, at most 10 MB each."),
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )


class AgentDetailsForm(DetailsForm):
    agent_notes = forms.CharField(
        label=_("Notes from the call (internal)"),
        max_length=NOTES_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@dataclass
class ReportFlow:
    """Where a report is: which step, and everything needed to render it."""

    problem: ProblemForm
    details: DetailsForm | None = None
    walk: Walk | None = None
    question: dict[str, Any] | None = None
    question_key: str | None = None
    answer_error: str | None = None
    answers: dict[str, str] | None = None
    kept: dict[str, str] | None = None
    submitting: bool = False
    error: str | None = None

    @property
    def step(self) -> str:
        if not self.problem.is_bound or self.problem.errors:
            return "problem"
        if self.walk is None or self.walk.outcome is None:
            return "question"
        return "details"

    @property
    def failed(self) -> bool:
        """A submit that did not go through (the page answers 422)."""
        return self.submitting and (self.error is not None or bool(self.details and self.details.errors))

    def submit(self, *, actor: User, customer: Customer, channel: str) -> RepairRequest | None:
        """Create the request when this was the last step and all is valid;
        otherwise keep the errors on the form and return None."""
        if (
            not self.submitting
            or self.step != "details"
            or self.details is None
            or not self.details.is_valid()
        ):
            return None
        try:
            return request_create(
                actor=actor,
                customer=customer,
                home=self.problem.cleaned_data["home"],
                channel=channel,
                tree=self.tree,
                answers=self.answers or {},
                defect_location_code=self.problem.cleaned_data["location"].code,
                description=self.details.cleaned_data["description"],
                photos=self.details.cleaned_data["photos"],
                agent_notes=self.details.cleaned_data.get("agent_notes", ""),
            )
        except ApplicationError as failure:
            if failure.field in self.details.fields:
                self.details.add_error(failure.field, str(failure.message))
            else:
                self.error = str(failure.message)
            return None

    @property
    def tree(self) -> TriageTree:
        tree: TriageTree = self.problem.cleaned_data["tree"]
        return tree

    @property
    def question_text(self) -> str:
        return localised(self.question["text"]) if self.question else ""

    @property
    def question_choices(self) -> list[tuple[str, str]]:
        if not self.question:
            return []
        return [(answer["key"], localised(answer["label"])) for answer in self.question["answers"]]

    @property
    def kept_answers(self) -> list[tuple[str, str]]:
        """Answers on the path so far, carried as hidden inputs."""
        return [
            (ANSWER_PREFIX + step.question_key, step.answer_key)
            for step in (self.walk.steps if self.walk else [])
        ]


def report_flow_for(request: HttpRequest, *, homes: QuerySet[Home], agent: bool) -> ReportFlow:
    """The report flow for a GET (a fresh form) or a POST (a step, or the submit)."""
    posted = request.method == "POST"
    return report_flow(
        data=request.POST if posted else None,
        files=request.FILES,
        homes=homes,
        agent=agent,
        submitting=posted and "submit" in request.POST,
        change=request.POST.get("change"),
    )


def answers_from(data: Any) -> dict[str, str]:
    return {
        key[len(ANSWER_PREFIX) :]: str(value)
        for key, value in data.items()
        if key.startswith(ANSWER_PREFIX) and isinstance(value, str)
    }


def report_flow(
    *,
    data: Any | None,
    files: Any | None,
    homes: QuerySet[Home],
    agent: bool,
    submitting: bool,
    change: str | None = None,
) -> ReportFlow:
    """Work out the step for posted `data` (None: a fresh form)."""
    problem = ProblemForm(data, homes=homes, all_locations=agent, prefix=None)
    flow = ReportFlow(problem=problem, submitting=submitting)
    details_class = AgentDetailsForm if agent else DetailsForm
    if data is None or not problem.is_valid():
        return flow
    answers = answers_from(data)
    flow.kept = _kept(data)
    definition = flow.tree.definition
    while True:
        try:
            walk = tree_walk(definition, answers)
            break
        except ApplicationError as error:
            # An answer the question does not have (a tampered or stale
            # form): drop it and ask that question again.
            answers.pop((error.field or "")[len(ANSWER_PREFIX) :], None)
            flow.answer_error = str(error)
    if change:
        # "Change this answer": forget it and every answer after it.
        keys = [step.question_key for step in walk.steps]
        if change in keys:
            answers = {key: answers[key] for key in keys[: keys.index(change)]}
            walk = tree_walk(definition, answers)
    flow.walk = walk
    flow.answers = answers
    if walk.outcome is None:
        flow.question_key = walk.next_question_key
        flow.question = definition["questions"][walk.next_question_key]
        return flow
    if submitting:
        flow.details = details_class(data, files)
    else:
        flow.details = details_class(initial=_kept(data))
    return flow


def _kept(data: Any) -> dict[str, str]:
    return {"description": data.get("description", ""), "agent_notes": data.get("agent_notes", "")}
