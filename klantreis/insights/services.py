"""Folding the event log into the case summaries the KPIs aggregate."""


def insights_refresh(*, batch: int = 5000) -> int:
    """Fold new events into CaseSummary (durable cursor), idempotent.
    Returns how many events were read."""
    raise NotImplementedError
