from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from klantreis.feedback.models import COMMENT_MAX, Survey

if TYPE_CHECKING:  # django-stubs is a development dependency
    from django_stubs_ext import StrPromise

QUESTIONS: "dict[str, StrPromise]" = {Survey.Kind.CSAT: _("How satisfied are you with the repair?")}
SCALES: "dict[str, list[tuple[int, StrPromise]]]" = {
    Survey.Kind.CSAT: [
        (1, _("Very dissatisfied")),
        (2, _("Dissatisfied")),
        (3, _("Neither satisfied nor dissatisfied")),
        (4, _("Satisfied")),
        (5, _("Very satisfied")),
    ],
}


class SurveyAnswerForm(forms.Form):
    score = forms.TypedChoiceField(
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please choose a score."),
            "invalid_choice": _("Please choose one of the scores shown."),
        },
    )
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

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        score = cast(forms.TypedChoiceField, self.fields["score"])
        score.label = QUESTIONS[kind]
        score.choices = [(value, format_lazy("{} – {}", value, label)) for value, label in SCALES[kind]]
