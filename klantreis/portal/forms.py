from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from klantreis.planning.services import REASON_MAX_LENGTH


class SignInLinkForm(forms.Form):
    email = forms.EmailField(
        label=_("Your e-mail address"),
        max_length=254,
        error_messages={
            "required": _("Please fill in your e-mail address."),
            "invalid": _("This is not an e-mail address. It looks like name@example.nl."),
            "max_length": _("An e-mail address has at most 254 characters."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class AppointmentCancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are you cancelling? (optional)"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        error_messages={
            "max_length": format_lazy(
                _("Please keep the reason to at most {max} characters."), max=REASON_MAX_LENGTH
            ),
            "null_characters_not_allowed": _(
                "The reason contains a character we cannot store. Please remove it."
            ),
        },
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": REASON_MAX_LENGTH}),
    )
