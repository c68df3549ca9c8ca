"""Form parts shared by the rooms."""

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

MESSAGE_KEY_MISSING = _("This form is out of date. Please reload the page.")


class SubmissionKeyField(forms.UUIDField):
    """A key made when the form is shown (hidden). A service that is given
    it carries out a form sent twice only once."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("initial", uuid.uuid4)  # called per form shown: a new key each time
        kwargs.setdefault("error_messages", {"required": MESSAGE_KEY_MISSING, "invalid": MESSAGE_KEY_MISSING})
        super().__init__(**kwargs)
