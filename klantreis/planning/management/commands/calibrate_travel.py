from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, no_translations

from klantreis.core.errors import ApplicationError
from klantreis.planning.models import PlanningSettings
from klantreis.planning.travel.calibration import calibrate, calibration_apply, job_observations


class Command(BaseCommand):
    help = (
        "Fit the straight-line travel-time estimate (circuity × distance ÷ speed) to the trips "
        "between consecutive completed visits; --apply stores it in the planning settings."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--apply",
            action="store_true",
            help="Store the fitted speed and circuity in the planning settings.",
        )

    # English throughout, like Django's own commands: the refusal from `calibrate` is
    # a translatable message, and the rest of the output is not.
    @no_translations
    def handle(self, *args: Any, **options: Any) -> None:
        history = job_observations()
        if not history.observations:
            # Nothing to learn from is not a failure (a new organisation, or visits not yet
            # route-planned), so this exits 0 and changes nothing.
            self.stdout.write(
                "No trips to calibrate from: no consecutive route-planned visits of one technician "
                f"on one day ending at a fixed job ({history.pairs} pairs looked at). Nothing changed."
            )
            return
        current = PlanningSettings.current()
        try:
            fit = calibrate(history.observations, circuity_factor=current.circuity_factor)
        except ApplicationError as error:
            raise CommandError(f"{error} Nothing changed.") from error
        self.stdout.write(
            f"Trips: {fit.samples} used of {len(history.observations)} observed "
            f"({history.pairs} consecutive job pairs)\n"
            f"Fit: {fit.seconds_per_km:.0f} s per straight-line km = circuity {fit.circuity_factor:g} "
            f"at {fit.average_speed_kmh:g} km/h (now: circuity {current.circuity_factor:g} "
            f"at {current.average_speed_kmh:g} km/h)\n"
            f"Error: {fit.error:.0f} s root-mean-square per trip"
        )
        if not options["apply"]:
            self.stdout.write("Not stored; run with --apply to store it.")
            return
        calibration_apply(calibration=fit)
        self.stdout.write(self.style.SUCCESS("Stored in the planning settings."))
