from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _


class OutboxFilterForm(forms.Form):
    to = forms.CharField(label=_("Sent to"), max_length=254, required=False)


CLOCK_STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


class DemoClockForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("hour", _("Advance 1 hour")), ("day", _("Advance 1 day")), ("reset", _("Reset"))],
        error_messages={"invalid_choice": _("Choose one of the clock buttons.")},
    )
