from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from klantreis.customers.selectors import phone_normalise, postcode_normalise
from klantreis.intake.models import RepairRequest


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
