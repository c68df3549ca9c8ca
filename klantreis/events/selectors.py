from django.db.models import QuerySet

from klantreis.events.models import Event


def event_list_for_case(*, case_id: str) -> QuerySet[Event]:
    return Event.objects.filter(case_id=case_id).select_related("actor").order_by("occurred_at", "id")


def event_list_after(*, after_id: int, limit: int = 500) -> QuerySet[Event]:
    """Events in log order after a consumer's cursor."""
    return Event.objects.filter(id__gt=after_id).order_by("id")[:limit]
