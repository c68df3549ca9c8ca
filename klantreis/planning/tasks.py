from datetime import date

from django.tasks import task

from klantreis.planning.optimise import day_reoptimise


@task()
def day_reoptimise_task(day: str, seconds: float = 2.0) -> str:
    """Re-optimise one day (ISO date) in the background; safe to run twice:
    a plan is only applied when it is shorter and the day did not change."""
    outcome = day_reoptimise(day=date.fromisoformat(day), seconds=seconds)
    return outcome.reason
