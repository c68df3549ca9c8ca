from django import forms
from django.utils.translation import gettext_lazy as _


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
