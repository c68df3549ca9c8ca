"""Forms of the request page's contact box: add information, message the desk."""

from django import forms
from django.utils.translation import gettext_lazy as _

from klantreis.core.forms import SubmissionKeyField
from klantreis.intake.forms import MultipleFileInput, MultiplePhotoField
from klantreis.intake.services import INFORMATION_MAX
from klantreis.journeys.desk import DESK_MESSAGE_MAX


class InformationForm(forms.Form):
    text = forms.CharField(
        label=_("What would you like to add?"),
        help_text=_("For example: it got worse, or when you are at home."),
        max_length=INFORMATION_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"max_length": _("Please keep your text under %(limit_value)d characters.")},
    )
    photos = MultiplePhotoField(
        label=_("Photos (optional)"),
        help_text=_("JPEG, PNG or WebP, at most 10 MB each."),
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )


class DeskMessageForm(forms.Form):
    key = SubmissionKeyField()
    text = forms.CharField(
        label=_("Your message"),
        max_length=DESK_MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": _("Please write your message."),
            "max_length": _("Please keep your message under %(limit_value)d characters."),
        },
    )
