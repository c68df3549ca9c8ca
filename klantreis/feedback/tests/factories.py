from datetime import datetime, timedelta
from typing import Any

from klantreis.core import clock
from klantreis.customers.models import Customer
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.feedback.services import survey_issue


def issued(*, key: str = "tp-1", customer: Customer | None = None, **overrides: Any) -> str:
    """A survey issued through the real service; returns the link's token."""
    arguments: dict[str, Any] = {
        "key": key,
        "kind": "csat",
        "case_id": "R-2026-0001",
        "customer": customer or CustomerFactory(),
        "language": "nl",
        "expires_at": clock.now() + timedelta(days=7),
        "touchpoint": "survey",
    }
    return survey_issue(**arguments | overrides)


def later(days: float) -> datetime:
    return clock.now() + timedelta(days=days)
