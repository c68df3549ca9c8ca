"""Choosing a time block: the form the portal and the desk book with.

A slot travels through the form as its key, "<start>-<end>" in epoch
seconds. The key comes back from the browser, so it is parsed with care
and must name a block that is offered *now*; the booking service checks
it once more under lock.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from klantreis.planning.plan import Slot
from klantreis.planning.services import MESSAGE_SLOT_TAKEN

MESSAGE_SLOT_MISSING = _("Please choose a time.")
MESSAGE_SLOT_INVALID = _("Please choose one of the times shown.")
MESSAGE_SLOT_PAST = _("This time has already passed. Please choose another one.")

# Days shown before "show more days": enough for most people to find a time,
# few enough for a phone screen.
FIRST_DAYS = 5
KEY_PATTERN = re.compile(r"([0-9]{1,12})-([0-9]{1,12})")


@dataclass(frozen=True)
class SlotChoice:
    """One offered block as the screen shows it: local wall-clock times."""

    slot: Slot
    start: time
    end: time
    checked: bool
    technician: str

    @property
    def key(self) -> str:
        return self.slot.key

    @property
    def added_travel_minutes(self) -> int:
        return -(-self.slot.added_travel_seconds // 60)


@dataclass(frozen=True)
class SlotDay:
    day: date
    relative: str  # "today", "tomorrow" or ""
    choices: tuple[SlotChoice, ...]
    first_new: bool  # the first day revealed by "show more days"


def window_parse(key: str) -> tuple[datetime, datetime]:
    """A slot key as its (start, end); ValueError when it is not a window."""
    match = KEY_PATTERN.fullmatch(key)
    if match is None:
        raise ValueError(key)
    try:
        start, end = (datetime.fromtimestamp(int(part), tz=UTC) for part in match.groups())
    except (OverflowError, OSError) as error:
        raise ValueError(key) from error
    if end <= start:
        raise ValueError(key)
    return start, end


def window_text(*, start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """'Wednesday 11 March between 10:00 and 12:00', in the active language."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    return gettext("%(day)s between %(start)s and %(end)s") % {
        "day": date_format(local_start, "l j F"),
        "start": time_format(local_start, "H:i"),
        "end": time_format(local_end, "H:i"),
    }


class AppointmentForm(forms.Form):
    slot = forms.CharField(
        max_length=32,
        error_messages={"required": MESSAGE_SLOT_MISSING, "max_length": MESSAGE_SLOT_INVALID},
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        slots: Sequence[Slot],
        zone: ZoneInfo,
        now: datetime,
        selected: str = "",
        show_all: bool = False,
        technicians: Mapping[int, str] | None = None,
    ) -> None:
        super().__init__(data)
        self.slots = list(slots)
        self.zone = zone
        self.now = now
        self.technicians = technicians or {}
        wanted = str(data.get("slot", "")) if data is not None else selected
        self.checked = self._find(wanted) or next((s for s in self.slots if s.best), None)
        self.days, self.more = self._days(show_all=show_all)

    def clean_slot(self) -> Slot:
        try:
            start, end = window_parse(self.cleaned_data["slot"])
        except ValueError:
            raise forms.ValidationError(MESSAGE_SLOT_INVALID, code="invalid") from None
        if end <= self.now:
            raise forms.ValidationError(MESSAGE_SLOT_PAST, code="past")
        slot = self._match(start, end)
        if slot is None:
            raise forms.ValidationError(MESSAGE_SLOT_TAKEN, code="taken")
        return slot

    def _find(self, key: str) -> Slot | None:
        try:
            return self._match(*window_parse(key))
        except ValueError:
            return None

    def _match(self, start: datetime, end: datetime) -> Slot | None:
        for slot in self.slots:
            if (slot.start, slot.end) == (start, end):
                return slot
        # The block under way is offered from "now", so its key moves on every
        # second: a key for the same block taken a moment ago still means it.
        for slot in self.slots:
            if slot.end == end and start <= slot.start <= self.now:
                return slot
        return None

    def _days(self, *, show_all: bool) -> tuple[list[SlotDay], bool]:
        today = self.now.astimezone(self.zone).date()
        relative = {today: "today", today + timedelta(days=1): "tomorrow"}
        by_day: dict[date, list[SlotChoice]] = {}
        for slot in self.slots:
            start, end = slot.start.astimezone(self.zone), slot.end.astimezone(self.zone)
            by_day.setdefault(start.date(), []).append(
                SlotChoice(
                    slot=slot,
                    start=start.time(),
                    end=end.time(),
                    checked=slot == self.checked,
                    technician=self.technicians.get(slot.technician_id, ""),
                )
            )
        ordered = sorted(by_day.items())
        # The chosen block is never hidden behind "show more days".
        shown = FIRST_DAYS
        for index, (_day, choices) in enumerate(ordered):
            if any(choice.checked for choice in choices):
                shown = max(shown, index + 1)
        first_new = shown if show_all else None
        if show_all:
            shown = len(ordered)
        days = [
            SlotDay(
                day=day,
                relative=relative.get(day, ""),
                choices=tuple(choices),
                first_new=index == first_new,
            )
            for index, (day, choices) in enumerate(ordered[:shown])
        ]
        return days, shown < len(ordered)
