from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from klantreis.feedback.models import COMMENT_MAX, Survey
from klantreis.feedback.services import SCORE_RANGES

if TYPE_CHECKING:  # django-stubs is a development dependency
    from django_stubs_ext import StrPromise


@dataclass(frozen=True)
class Question:
    text: "StrPromise"
    # What the scale's numbers mean: every step (CSAT, moment) or only its two ends (NPS, CES).
    labels: "dict[int, StrPromise]"
    hint: "StrPromise | None" = None


QUESTIONS: dict[str, Question] = {
    Survey.Kind.CSAT: Question(
        _("How satisfied are you with the repair?"),
        {
            1: _("Very dissatisfied"),
            2: _("Dissatisfied"),
            3: _("Neither satisfied nor dissatisfied"),
            4: _("Satisfied"),
            5: _("Very satisfied"),
        },
    ),
    Survey.Kind.NPS: Question(
        _("How likely are you to recommend our repair service to a friend or neighbour?"),
        {0: _("Not at all likely"), 10: _("Extremely likely")},
        _("0 means not at all likely, 10 extremely likely."),
    ),
    Survey.Kind.CES: Question(
        _("How easy was it to get your repair done?"),
        {1: _("Very difficult"), 7: _("Very easy")},
        _("1 means very difficult, 7 very easy."),
    ),
    Survey.Kind.MOMENT: Question(
        _("How was this moment?"),
        {1: _("Very bad"), 2: _("Bad"), 3: _("Okay"), 4: _("Good"), 5: _("Very good")},
    ),
}


class SurveyAnswerForm(forms.Form):
    """One radio group per question of the send, named by its kind (`csat`,
    `nps`, `ces`, `moment`), and the send's one open comment."""

    comment = forms.CharField(
        label=_("Anything you would like to tell us? (optional)"),
        help_text=format_lazy(_("At most {max} characters."), max=COMMENT_MAX),
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea,
        error_messages={
            "max_length": _(
                "Please keep your comment to at most %(limit_value)d characters; it now has %(show_value)d."
            ),
        },
    )

    def __init__(self, *args: Any, questions: list[Survey], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = [question.kind for question in questions]
        scores: dict[str, forms.Field] = {}
        for question in questions:
            spec = QUESTIONS[question.kind]
            low, high = SCORE_RANGES[question.kind]
            label: Any = spec.text
            topic = question.topic.get(get_language() or question.language) or question.topic.get(
                question.language
            )
            if question.kind == Survey.Kind.MOMENT and topic:
                label = format_lazy(_("How was this moment: “{moment}”?"), moment=topic)
            field = forms.TypedChoiceField(
                label=label,
                help_text=spec.hint or "",
                coerce=int,
                widget=forms.RadioSelect,
                choices=[
                    (
                        value,
                        format_lazy("{} – {}", value, spec.labels[value])
                        if value in spec.labels
                        else str(value),
                    )
                    for value in range(low, high + 1)
                ],
                error_messages={
                    "required": _("Please choose a score."),
                    "invalid_choice": _("Please choose one of the scores shown."),
                },
            )
            # Every step labelled (CSAT, moment) stacks; a bare 0–10 or 1–7 scale runs in a row.
            field.scale_class = "choices" if len(spec.labels) > 2 else "choices scale"  # type: ignore[attr-defined]
            scores[question.kind] = field
        self.fields = scores | dict(self.fields)

    def score_fields(self) -> list[forms.BoundField]:
        return [self[kind] for kind in self.kinds]

    def scores(self) -> dict[str, int]:
        return {kind: self.cleaned_data[kind] for kind in self.kinds}
