"""When a tandem's check-ins fall due, and when their reminders go out: pure rules.

Nothing here touches the database; :mod:`core.pairings.checkins` applies these rules
every day (through the periodic task in :mod:`core.pairings.checkin_tasks`), and the
tests walk their edge cases with plain dates.

Due dates (``due_on``), counted from the day the tandem became active:

* **start** — two weeks after activation: by then the pair has had its first
  meeting and written its agreement, which is what the start check-in asks about;
* **midpoint** (Zwischenbilanz) — half-way between activation and the planned end;
* **end** — the day the coordinator completed the tandem or, while it is still
  active, its planned end;
* **follow-up after 3 and 6 months** — 3 and 6 calendar months after completion,
  for the mentee only: they ask for the employment outcome.

The *planned end* is the programme's duration after activation, but no later than
the end of the cohort's mentoring window (the closing event): a tandem that started
late ends with its cohort. When the cohort's window is already over at activation,
the programme's duration alone counts.

A check-in row is created once its due date has come, and only while it still makes
sense for the tandem (:data:`KINDS_BY_STATE`): start, midpoint and end while it is
active; end and the follow-ups once it is completed. A paused tandem is asked
nothing until it resumes; a dissolved (or declined, withdrawn) one nothing at all.

Reminders: the first on the due date (the day the check-in is created, normally),
one more seven days later if it is still unanswered, and never a third. Reminders
follow the same state rule: nobody is asked about the start of a dissolved tandem.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.pairings.lifecycle import PairingState
from core.pairings.models import CheckInKind, Respondent

START_AFTER = timedelta(days=14)
FOLLOW_UP_MONTHS = {CheckInKind.FOLLOWUP_3M: 3, CheckInKind.FOLLOWUP_6M: 6}
FOLLOW_UPS = frozenset(FOLLOW_UP_MONTHS)
MILESTONES = (CheckInKind.START, CheckInKind.MIDPOINT, CheckInKind.END)
REMINDER_GAP = timedelta(days=7)
MAX_REMINDERS = 2

KINDS_BY_STATE: dict[PairingState, frozenset[CheckInKind]] = {
    PairingState.ACTIVE: frozenset(MILESTONES),
    PairingState.COMPLETED: frozenset({CheckInKind.END, *FOLLOW_UPS}),
}


@dataclass(frozen=True)
class Due:
    """One check-in of a tandem: who answers it and from which day."""

    kind: CheckInKind
    respondent: Respondent
    due_on: date


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later; the month's last day where it is shorter (31 Aug + 6)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def planned_end(activated_on: date, cohort_ends_on: date, duration_weeks: int) -> date:
    """The programme's duration after activation, cut at the cohort's end when that is later."""
    by_duration = activated_on + timedelta(weeks=duration_weeks)
    if cohort_ends_on <= activated_on:
        return by_duration
    return min(by_duration, cohort_ends_on)


def schedule(
    activated_on: date,
    *,
    cohort_ends_on: date,
    duration_weeks: int,
    completed_on: date | None = None,
) -> list[Due]:
    """Every check-in of a tandem, in due order (follow-ups only once completed).

    Start and midpoint never come out of order (in a programme shorter than four
    weeks the midpoint waits for the start) and neither comes after the planned end.
    """
    end = planned_end(activated_on, cohort_ends_on, duration_weeks)
    start_on = min(activated_on + START_AFTER, end)
    midpoint_on = max(start_on, activated_on + timedelta(days=(end - activated_on).days // 2))
    end_on = completed_on if completed_on is not None else end
    dues = []
    for kind, on in ((CheckInKind.START, start_on), (CheckInKind.MIDPOINT, midpoint_on)):
        dues += [Due(kind, Respondent.MENTEE, on), Due(kind, Respondent.MENTOR, on)]
    dues += [Due(CheckInKind.END, Respondent.MENTEE, end_on)]
    dues += [Due(CheckInKind.END, Respondent.MENTOR, end_on)]
    if completed_on is not None:
        for kind, months in FOLLOW_UP_MONTHS.items():
            dues.append(Due(kind, Respondent.MENTEE, add_months(completed_on, months)))
    return sorted(dues, key=lambda due: due.due_on)


def applies(kind: CheckInKind, state: PairingState) -> bool:
    """Whether a check-in of ``kind`` is asked (created, reminded) in ``state``."""
    return kind in KINDS_BY_STATE.get(state, frozenset())


def fallen_due(dues: Iterable[Due], state: PairingState, today: date) -> list[Due]:
    """The check-ins to have by ``today`` for a tandem in ``state``."""
    return [due for due in dues if due.due_on <= today and applies(due.kind, state)]


def reminder_due(
    *,
    due_on: date,
    reminders_sent: int,
    reminded_at: datetime | None,
    completed: bool,
    today: date,
) -> bool:
    """Whether an unanswered check-in gets a reminder ``today``: at most two, a week apart."""
    if completed or reminders_sent >= MAX_REMINDERS:
        return False
    if reminders_sent == 0 or reminded_at is None:
        return due_on <= today
    return reminded_at.date() + REMINDER_GAP <= today


__all__ = [
    "FOLLOW_UPS",
    "KINDS_BY_STATE",
    "MAX_REMINDERS",
    "MILESTONES",
    "REMINDER_GAP",
    "START_AFTER",
    "Due",
    "add_months",
    "applies",
    "fallen_due",
    "planned_end",
    "reminder_due",
    "schedule",
]
