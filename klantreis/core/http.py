from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request as our middleware stack hands it to views (typing only)."""

    htmx: HtmxDetails
