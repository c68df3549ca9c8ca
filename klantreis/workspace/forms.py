import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from klantreis.core.forms import SubmissionKeyField
from klantreis.customers.selectors import phone_normalise, postcode_normalise
from klantreis.intake.models import RepairRequest
from klantreis.planning.calendar import local
from klantreis.planning.models import Job, Technician


class CustomerSearchForm(forms.Form):
    postcode = forms.CharField(
        label=_("Postcode"),
        max_length=7,
        required=False,
        error_messages={"max_length": _("A postcode looks like 3512 AB.")},
    )
    house_number = forms.IntegerField(
        label=_("House number"),
        min_value=1,
        max_value=99999,
        required=False,
        error_messages={"invalid": _("A house number is a whole number, like 12.")},
    )
    phone = forms.CharField(label=_("or phone number"), max_length=20, required=False)

    def clean_postcode(self) -> str:
        value: str = self.cleaned_data["postcode"]
        if value and postcode_normalise(value) is None:
            raise forms.ValidationError(_("A postcode looks like 3512 AB."))
        return value

    def clean_phone(self) -> str:
        value: str = self.cleaned_data["phone"]
        if value and phone_normalise(value) is None:
            raise forms.ValidationError(_("This is not a phone number we recognise, like 06 12345678."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not data.get("postcode") and not data.get("phone"):
            raise forms.ValidationError(_("Fill in a postcode and house number, or a phone number."))
        if data.get("house_number") and not data.get("postcode"):
            self.add_error("postcode", _("Fill in the postcode with the house number."))
        return data


class RequestFilterForm(forms.Form):
    q = forms.CharField(label=_("Reference or postcode"), max_length=20, required=False)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("all"))] + list(RepairRequest.Status.choices), required=False
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"), choices=[("", _("all"))] + list(RepairRequest.Urgency.choices), required=False
    )


MESSAGE_BOARD_JOB_UNKNOWN = _("This job does not exist (any more). Reload the board.")
MESSAGE_BOARD_JOB_OTHER_DAY = _("This job is planned on another day: open that day's board to move it.")
MESSAGE_BOARD_TECHNICIAN = _("Choose a technician from the list.")
MESSAGE_BOARD_TIME = _("Give the time as hours and minutes, like 09:30.")
TIME_PATTERN = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


class BoardPinForm(forms.Form):
    """A planner pins a job of the board's day to a technician, and
    optionally to a time (local wall clock) on that day."""

    job = forms.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        error_messages={
            "required": MESSAGE_BOARD_JOB_UNKNOWN,
            "invalid": MESSAGE_BOARD_JOB_UNKNOWN,
            "min_value": MESSAGE_BOARD_JOB_UNKNOWN,
            "max_value": MESSAGE_BOARD_JOB_UNKNOWN,
        },
    )
    technician = forms.IntegerField(
        label=_("Technician"),
        min_value=1,
        max_value=2**31 - 1,
        error_messages={
            "required": MESSAGE_BOARD_TECHNICIAN,
            "invalid": MESSAGE_BOARD_TECHNICIAN,
            "min_value": MESSAGE_BOARD_TECHNICIAN,
            "max_value": MESSAGE_BOARD_TECHNICIAN,
        },
    )
    time = forms.CharField(
        label=_("At time (optional)"),
        required=False,
        max_length=5,
        error_messages={"max_length": MESSAGE_BOARD_TIME},
    )

    def __init__(self, data: Any, *, day: date, zone: ZoneInfo) -> None:
        super().__init__(data)
        self.day = day
        self.zone = zone

    def clean_job(self) -> Job:
        job = Job.objects.select_related("request").filter(pk=self.cleaned_data["job"]).first()
        if job is None:
            raise forms.ValidationError(MESSAGE_BOARD_JOB_UNKNOWN)
        if job.visit_start is not None and job.visit_start.astimezone(self.zone).date() != self.day:
            raise forms.ValidationError(MESSAGE_BOARD_JOB_OTHER_DAY)
        return job

    def clean_technician(self) -> Technician:
        technician = Technician.objects.filter(pk=self.cleaned_data["technician"], active=True).first()
        if technician is None:
            raise forms.ValidationError(MESSAGE_BOARD_TECHNICIAN)
        return technician

    def clean_time(self) -> datetime | None:
        value: str = self.cleaned_data["time"]
        if not value:
            return None
        match = TIME_PATTERN.fullmatch(value)
        if match is None:
            raise forms.ValidationError(MESSAGE_BOARD_TIME)
        return local(self.day, time(int(match[1]), int(match[2])), self.zone)


MESSAGE_TASK_NOTE_TOO_LONG = _("A note is at most %(limit_value)d characters (this one has %(show_value)d).")
MESSAGE_QUEUE_UNKNOWN = _("That is not a queue name.")
QUEUE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
TASK_NOTE_MAX = 2000


class TaskQueueFilterForm(forms.Form):
    """Narrow the task list to one queue; the queues offered are those with open tasks."""

    queue = forms.RegexField(
        label=_("Queue"),
        regex=QUEUE_PATTERN,
        required=False,
        max_length=40,
        error_messages={"invalid": MESSAGE_QUEUE_UNKNOWN, "max_length": MESSAGE_QUEUE_UNKNOWN},
        widget=forms.Select,
    )

    def __init__(self, data: Any, *, queues: list[tuple[str, str]]) -> None:
        super().__init__(data)
        choices = [("", _("all queues")), *queues]
        chosen = (data or {}).get("queue", "")
        if chosen and chosen not in {value for value, _label in queues}:
            # A queue emptied since the link was made still shows as chosen.
            choices.append((chosen, chosen))
        self.fields["queue"].widget.choices = choices


class TaskDoneForm(forms.Form):
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=TASK_NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"max_length": MESSAGE_TASK_NOTE_TOO_LONG},
    )


MESSAGE_DEFINITION_REQUIRED = _("The definition is empty. Write the journey in YAML, or reload the page.")
MESSAGE_CHANGE_NOTE_TOO_LONG = _(
    "Say what changed in at most %(limit_value)d characters (this has %(show_value)d)."
)


class JourneyDefinitionForm(forms.Form):
    """A designer's edit of a journey definition. The text is kept exactly as
    typed (no stripping), so a refused save shows it again unchanged."""

    source = forms.CharField(
        label=_("Definition (YAML)"),
        strip=False,
        error_messages={"required": MESSAGE_DEFINITION_REQUIRED},
        widget=forms.Textarea(
            attrs={
                "rows": 32,
                "class": "code-editor",
                "spellcheck": "false",
                "autocapitalize": "off",
                "autocomplete": "off",
            }
        ),
    )
    note = forms.CharField(
        label=_("What changed"),
        help_text=_("A line for the version history, e.g. “reminder at 19:00 instead of 18:00”."),
        max_length=300,
        required=False,
        error_messages={"max_length": MESSAGE_CHANGE_NOTE_TOO_LONG},
    )

    def clean_source(self) -> str:
        # Browsers send a textarea's line breaks as CRLF; YAML and the line
        # numbers in the errors do not care, the stored versions should not either.
        value: str = self.cleaned_data["source"]
        return value.replace("\r\n", "\n")


class DeskAnswerForm(forms.Form):
    """A staff member's answer to a customer's message, sent to their portal inbox."""

    key = SubmissionKeyField()
    text = forms.CharField(
        label=_("Answer to the customer"),
        help_text=_("The customer reads it in their portal messages. Write in their language."),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": _("Please write your answer."),
            "max_length": _("Please keep the answer under %(limit_value)d characters."),
        },
    )
