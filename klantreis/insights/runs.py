"""Long computations for the dashboards (conformance, XES and OCEL exports),
run as tasks over an AnalysisRun row that carries their progress.

`analysis_run_start` writes the row and enqueues the task after the commit;
`analysis_run_execute` is what the task does: it claims the row with a
conditional update (so a task delivered twice runs once), reports progress
0–100, and ends in DONE with a result or a file, or in FAILED with the error
the page shows.
"""

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.insights.filters import InsightFilters
from klantreis.insights.models import AnalysisRun
from klantreis.journeys.models import JourneyDefinition

logger = logging.getLogger(__name__)

MESSAGE_NO_ACTIVE_JOURNEY = _("There is no active repair journey to check the cases against.")
MESSAGE_UNKNOWN_KIND = _("This analysis does not exist.")
MESSAGE_RUN_FAILED = _("The analysis failed: %(error)s")

JOURNEY_KEY = "repair"
STARTABLE = (AnalysisRun.Kind.CONFORMANCE, AnalysisRun.Kind.EXPORT_XES, AnalysisRun.Kind.EXPORT_OCEL)
SUFFIX = {AnalysisRun.Kind.EXPORT_XES: ".xes", AnalysisRun.Kind.EXPORT_OCEL: ".jsonocel"}


def active_definition(*, key: str = JOURNEY_KEY) -> JourneyDefinition | None:
    return JourneyDefinition.objects.filter(key=key, active=True).first()


def analysis_run_start(*, kind: str, filters: InsightFilters, actor: User | None) -> AnalysisRun:
    """Record the run and hand it to the task worker once the row is committed."""
    if kind not in STARTABLE:
        raise ApplicationError(MESSAGE_UNKNOWN_KIND, field="kind")
    params: dict[str, Any] = {"filters": filters.as_params()}
    if kind == AnalysisRun.Kind.CONFORMANCE:
        definition = active_definition()
        if definition is None:
            raise ApplicationError(MESSAGE_NO_ACTIVE_JOURNEY)
        params |= {"definition": {"key": definition.key, "version": definition.version}}
    from klantreis.insights.tasks import analysis_run_task

    with transaction.atomic():
        run = AnalysisRun.objects.create(kind=kind, params=params, created_by=actor, created_at=clock.now())
        transaction.on_commit(lambda: analysis_run_task.enqueue(run.pk))
    return run


def _progress(run_id: int) -> Callable[[int], None]:
    def report(percent: int) -> None:
        AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.RUNNING).update(
            progress=max(0, min(int(percent), 99))
        )

    return report


def run_filters(run: AnalysisRun) -> InsightFilters:
    raw = run.params.get("filters", {})
    return InsightFilters.from_params(
        {name: str(value) for name, value in raw.items() if value is not None}, today=clock.now().date()
    )


def _conformance(run: AnalysisRun) -> dict[str, Any]:
    from klantreis.insights import mining

    wanted = run.params.get("definition", {})
    definition = JourneyDefinition.objects.filter(
        key=wanted.get("key"), version=wanted.get("version")
    ).first()
    if definition is None:
        raise ApplicationError(MESSAGE_NO_ACTIVE_JOURNEY)
    cases = run_filters(run).cases().values_list("case_id", flat=True)
    outcome = mining.conformance(definition=definition, cases=cases, progress=_progress(run.pk))
    return {
        "cases": outcome.cases,
        "fitting": outcome.fitting,
        "deviations": [
            {
                "kind": d.kind,
                "touchpoint": d.touchpoint,
                "cases": d.cases,
                "share": d.share,
                "case_ids": list(d.case_ids),
            }
            for d in outcome.deviations
        ],
    }


def _export(run: AnalysisRun) -> dict[str, Any]:
    from klantreis.insights import mining

    write = mining.xes_write if run.kind == AnalysisRun.Kind.EXPORT_XES else mining.ocel_write
    cases = run_filters(run).cases().values_list("case_id", flat=True)
    suffix = SUFFIX[AnalysisRun.Kind(run.kind)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"klantreis-{run.pk}{suffix}"
        _progress(run.pk)(10)
        events = write(path=path, cases=cases)
        _progress(run.pk)(90)
        # pm4py may pick its own extension (OCEL as .json or .xml): keep what it wrote.
        written = path if path.exists() else next(Path(folder).iterdir())
        with written.open("rb") as handle:
            run.file.save(f"{run.kind}-{run.pk}{written.suffix}", File(handle), save=False)
    AnalysisRun.objects.filter(pk=run.pk).update(file=run.file.name)
    return {"events": events}


def analysis_run_execute(*, run_id: int) -> AnalysisRun | None:
    """Carry out one run; None when another worker has it or it is finished."""
    claimed = AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.QUEUED).update(
        status=AnalysisRun.Status.RUNNING, started_at=clock.now(), progress=0
    )
    if not claimed:
        return None
    run = AnalysisRun.objects.get(pk=run_id)
    try:
        result = _conformance(run) if run.kind == AnalysisRun.Kind.CONFORMANCE else _export(run)
    except Exception as error:
        # The run must end either way, or the page polls forever; the error
        # is kept for the page and the traceback for the log.
        logger.exception("analysis run %s failed", run_id)
        message = error.message if isinstance(error, ApplicationError) else f"{type(error).__name__}: {error}"
        AnalysisRun.objects.filter(pk=run_id).update(
            status=AnalysisRun.Status.FAILED, error=str(message)[:2000], finished_at=clock.now()
        )
    else:
        AnalysisRun.objects.filter(pk=run_id).update(
            status=AnalysisRun.Status.DONE, result=result, progress=100, finished_at=clock.now()
        )
    return AnalysisRun.objects.get(pk=run_id)
