from typing import Any

from django.core.management.base import BaseCommand

from klantreis.planning.models import Technician
from klantreis.planning.services import visits_running_late_refresh


class Command(BaseCommand):
    help = "Move the arrival estimates on when a visit runs past its expected end (run every few minutes)."

    def handle(self, *args: Any, **options: Any) -> None:
        told = sum(
            visits_running_late_refresh(technician=technician)
            for technician in Technician.objects.filter(active=True)
        )
        self.stdout.write(f"{told} estimates told again")
