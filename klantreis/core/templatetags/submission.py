"""`{% submission_key %}`: the hidden key field of a form written out in a
template rather than rendered from a Django form (see core.forms)."""

import uuid

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def submission_key() -> SafeString:
    return format_html('<input type="hidden" name="key" value="{}">', uuid.uuid4())
