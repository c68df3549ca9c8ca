from typing import Any

from django.conf import settings
from django.http import HttpRequest

from klantreis.core.models import Organisation


def organisation(request: HttpRequest) -> dict[str, Any]:
    return {"organisation": Organisation.current(), "demo": settings.DEMO}
