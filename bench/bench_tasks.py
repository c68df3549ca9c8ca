"""Tasks that exist only for the benchmarks (imported by workers the
benchmark starts with `bench/` on PYTHONPATH)."""

from django.tasks import task


@task()
def noop() -> None:
    """Does nothing: the django-tasks-db round trip alone, the dispatch anchor."""
