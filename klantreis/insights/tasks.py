from django.tasks import task

from klantreis.insights.runs import analysis_run_execute


@task()
def analysis_run_task(run_id: int) -> str:
    """Carry out one analysis run (conformance, an export); safe to run twice."""
    run = analysis_run_execute(run_id=run_id)
    return run.status if run is not None else "skipped"
