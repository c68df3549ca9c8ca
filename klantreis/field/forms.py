"""The technician app's forms. Every action form carries a key made when the
page was rendered (`new_key`), so sending it twice applies it once."""

import uuid
from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from klantreis.core.forms import SubmissionKeyField
from klantreis.field.models import FieldUpdate
from klantreis.planning.models import Job

NOTE_MAX = 2000
MATERIALS_MAX = 1000

MESSAGE_ACTION_UNKNOWN = _("That is not something this app can record.")
MESSAGE_POSITION_BAD = _("The position from your phone was not valid; it was not used.")
MESSAGE_OUTCOME_MISSING = _("Please choose how the visit ended.")
MESSAGE_NOTE_LONG = _("Please keep the note under %(limit_value)d characters.")
MESSAGE_MATERIALS_LONG = _("Please keep the material list under %(limit_value)d characters.")
MESSAGE_DAY_BAD = _("That is not a date. Showing today.")

OUTCOMES = [
    (Job.Status.FIXED.value, _("Fixed")),
    (Job.Status.NOT_FIXED.value, _("Not fixed")),
    (Job.Status.NOT_HOME.value, _("Customer not home")),
]
ACTIONS = {
    "on_the_way": FieldUpdate.Action.ON_THE_WAY,
    "arrived": FieldUpdate.Action.ARRIVED,
    "completed": FieldUpdate.Action.COMPLETED,
}


def new_key() -> str:
    return str(uuid.uuid4())


class ActionForm(forms.Form):
    action = forms.CharField(
        max_length=16,
        error_messages={"required": MESSAGE_ACTION_UNKNOWN, "max_length": MESSAGE_ACTION_UNKNOWN},
    )
    key = SubmissionKeyField()

    def clean_action(self) -> str:
        action = self.cleaned_data["action"]
        if action not in ACTIONS:
            raise forms.ValidationError(MESSAGE_ACTION_UNKNOWN, code="unknown")
        return str(ACTIONS[action])


class PositionForm(forms.Form):
    """The phone's position, when the browser gave one. Bad or partial
    values are ignored rather than refused: the update matters more."""

    latitude = forms.FloatField(required=False, min_value=-90, max_value=90)
    longitude = forms.FloatField(required=False, min_value=-180, max_value=180)

    def position(self) -> tuple[float | None, float | None]:
        if not self.is_valid():
            return None, None
        latitude, longitude = self.cleaned_data["latitude"], self.cleaned_data["longitude"]
        if latitude is None or longitude is None:
            return None, None
        return latitude, longitude

    @property
    def rejected(self) -> bool:
        return bool(self.data.get("latitude") or self.data.get("longitude")) and self.position() == (
            None,
            None,
        )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; each is checked as a photo by the service."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class CompleteForm(forms.Form):
    status = forms.ChoiceField(
        choices=OUTCOMES,
        widget=forms.RadioSelect,
        label=_("How did the visit end?"),
        error_messages={"required": MESSAGE_OUTCOME_MISSING, "invalid_choice": MESSAGE_OUTCOME_MISSING},
    )
    not_fixed_reason = forms.ChoiceField(
        choices=[("", _("(only when not fixed)")), *Job.NotFixedReason.choices],
        required=False,
        label=_("Why not fixed?"),
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=NOTE_MAX,
        label=_("Notes"),
        error_messages={"max_length": MESSAGE_NOTE_LONG},
    )
    materials = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=MATERIALS_MAX,
        label=_("Material used or needed"),
        error_messages={"max_length": MESSAGE_MATERIALS_LONG},
    )
    photos = MultipleFileField(
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        required=False,
        label=_("Photos"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("status") == Job.Status.NOT_FIXED and not cleaned.get("not_fixed_reason"):
            self.add_error("not_fixed_reason", _("Please say why it could not be fixed."))
        return cleaned


class FollowUpDayForm(forms.Form):
    """From which day to offer follow-up visits (the material's expected day)."""

    after = forms.DateField(
        required=False,
        label=_("Material expected on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("That is not a date.")},
    )

    def day(self, default: date) -> date:
        if not self.is_valid() or self.cleaned_data["after"] is None:
            return default
        after: date = self.cleaned_data["after"]
        return after


class DayForm(forms.Form):
    day = forms.DateField(required=False, error_messages={"invalid": MESSAGE_DAY_BAD})
    technician = forms.IntegerField(required=False, min_value=1)
