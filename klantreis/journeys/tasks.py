from django.tasks import task

from klantreis.journeys.dispatch import touchpoints_run


@task()
def touchpoints_run_task(claim: str) -> int:
    """Carry out one claimed batch of due touchpoints (safe to run twice)."""
    return touchpoints_run(claim=claim)
