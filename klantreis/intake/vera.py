"""Loading the VERA maintenance reference lists shipped in `intake/data/vera/`."""

import csv
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from django.db import transaction

from klantreis.intake.models import VeraCode

DATA_DIR = Path(__file__).resolve().parent / "data" / "vera"
REFERENCE_CSV = DATA_DIR / "Referentiedata.csv"
NAMES_EN_CSV = DATA_DIR / "names_en.csv"
KINDS = tuple(VeraCode.Kind.values)


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int


def _date(value: str) -> date | None:
    return datetime.strptime(value, "%d-%m-%Y").date() if value else None  # noqa: DTZ007


def _english_names() -> dict[tuple[str, str], str]:
    if not NAMES_EN_CSV.exists():
        return {}
    with NAMES_EN_CSV.open(encoding="utf-8", newline="") as handle:
        return {(row["kind"], row["code"]): row["name_en"] for row in csv.DictReader(handle)}


@transaction.atomic
def vera_load(*, path: Path = REFERENCE_CSV) -> LoadResult:
    """Create or update the maintenance codes; idempotent, so safe to rerun
    when a newer VERA release is dropped in."""
    english = _english_names()
    created = updated = 0
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            kind = row["Soort"]
            if kind not in KINDS:
                continue
            _, was_created = VeraCode.objects.update_or_create(
                kind=kind,
                code=row["Code"],
                defaults={
                    "name": row["Naam"],
                    "name_en": english.get((kind, row["Code"]), ""),
                    "description": row["Omschrijving"],
                    "valid_from": _date(row["Begindatum"]),
                    "valid_until": _date(row["Einddatum"]),
                },
            )
            created += was_created
            updated += not was_created
    return LoadResult(created=created, updated=updated)
