"""What a check-in asks and accepts: one set of rules for the page, the API and loaders.

Two surveys, chosen by the check-in's kind:

* **start, midpoint, end** ask how satisfied the person is with the tandem (1 to 5,
  required), how often the pair met (required) and for an optional comment;
* **the follow-ups** (3 and 6 months after completion, mentees only) ask for the
  employment outcome — the figure programmes report — (required), an optional job
  title (or training) and an optional comment.

Answers arrive as form fields (all text), as JSON decoded into
:class:`CheckInAnswerIn`, or as plain values from a demo-data loader; all go through
:func:`check_answers`, which returns what to store or raises
:class:`~core.programmes.schemas.InvalidInput` with one untranslated problem per
field. A field the kind does not ask for is a problem too, so that an API client
learns that its answer would not have been kept.

Comments are read by the programme's coordinators (check-ins are their instrument);
the form says so.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from msgspec import Meta, Struct

from core.pairings.checkin_schedule import FOLLOW_UPS
from core.pairings.models import CheckInKind, EmploymentOutcome, Respondent
from core.programmes.schemas import (
    CHOICE,
    N_,
    UNKNOWN_FIELD,
    InvalidInput,
    Problem,
    _Bad,
    _text,
)

MAX_COMMENT_LENGTH = 2_000
MAX_JOB_TITLE_LENGTH = 200
MIN_SATISFACTION, MAX_SATISFACTION = 1, 5


class MeetingFrequency(StrEnum):
    """How often the pair met, as the person remembers it."""

    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"
    LESS_OFTEN = "less_often"
    NOT_YET = "not_yet"


MILESTONE_QUESTIONS = ("satisfaction", "meeting_frequency", "comment")
FOLLOW_UP_QUESTIONS = ("employment_outcome", "job_title", "comment")
ALL_QUESTIONS = ("satisfaction", "meeting_frequency", "employment_outcome", "job_title", "comment")
# The outcomes programmes publish as "working in their field or a related one".
IN_FIELD = frozenset(
    {EmploymentOutcome.EMPLOYED_OWN_FIELD, EmploymentOutcome.EMPLOYED_RELATED_FIELD}
)

SATISFACTION_MISSING = N_("Choose how satisfied you are, from 1 to 5.")
FREQUENCY_MISSING = N_("Choose how often you met.")
OUTCOME_MISSING = N_("Choose what you are doing now.")
NOT_ASKED = N_("This check-in does not ask this question.")


def questions_for(kind: CheckInKind) -> tuple[str, ...]:
    return FOLLOW_UP_QUESTIONS if kind in FOLLOW_UPS else MILESTONE_QUESTIONS


@dataclass(frozen=True)
class CheckedAnswers:
    """Answers ready to store: ``answers`` goes to the JSON column, the outcome to its own."""

    answers: dict[str, Any]
    employment_outcome: EmploymentOutcome | None


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


_DIGIT = re.compile(r"^[0-9]$")


def _satisfaction(raw: Any) -> int:
    if _blank(raw):
        raise _Bad(Problem(SATISFACTION_MISSING))
    if isinstance(raw, str) and _DIGIT.match(raw.strip()):
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _Bad(Problem(SATISFACTION_MISSING))
    if not MIN_SATISFACTION <= raw <= MAX_SATISFACTION:
        raise _Bad(Problem(SATISFACTION_MISSING))
    return raw


def _choice(raw: Any, choices: type[StrEnum], missing: str) -> Any:
    if _blank(raw):
        raise _Bad(Problem(missing))
    try:
        return choices(raw.strip() if isinstance(raw, str) else raw)
    except ValueError:
        raise _Bad(Problem(CHOICE)) from None


_READERS: dict[str, Any] = {
    "satisfaction": _satisfaction,
    "meeting_frequency": lambda raw: _choice(raw, MeetingFrequency, FREQUENCY_MISSING),
    "employment_outcome": lambda raw: _choice(raw, EmploymentOutcome, OUTCOME_MISSING),
    "job_title": lambda raw: _text(raw, MAX_JOB_TITLE_LENGTH, required=None),
    "comment": lambda raw: _text(raw, MAX_COMMENT_LENGTH, required=None, multi_line=True),
}


def check_answers(kind: CheckInKind, raw: Mapping[str, Any]) -> CheckedAnswers:
    """The answers to store for a check-in of ``kind``, or InvalidInput naming each field.

    ``raw`` may leave out optional questions; a question of the other survey, or an
    unknown key, is a problem (a ``None`` for it counts as left out).
    """
    asked = questions_for(kind)
    problems: dict[str, Problem] = {}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in asked and value is not None:
            problems[key] = Problem(NOT_ASKED if key in ALL_QUESTIONS else UNKNOWN_FIELD)
    for key in asked:
        try:
            values[key] = _READERS[key](raw.get(key))
        except _Bad as bad:
            problems[key] = bad.problem
    if problems:
        raise InvalidInput(problems)
    outcome = values.pop("employment_outcome", None)
    return CheckedAnswers(answers=values, employment_outcome=outcome)


# --- the JSON API's shapes ------------------------------------------------------------------


class CheckInAnswerIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """The answers to a check-in; which fields it asks for depends on its ``kind``.

    Start, midpoint and end: ``satisfaction`` and ``meeting_frequency`` (required),
    ``comment``. Follow-ups: ``employment_outcome`` (required), ``job_title``,
    ``comment``. Coordinators read the comments.
    """

    satisfaction: Annotated[
        int | None, Meta(description="1 (not at all satisfied) to 5 (very satisfied).")
    ] = None
    meeting_frequency: MeetingFrequency | None = None
    employment_outcome: EmploymentOutcome | None = None
    job_title: Annotated[
        str | None,
        Meta(description="The job (or training) the mentee has now; at most 200 characters."),
    ] = None
    comment: Annotated[str | None, Meta(description="Anything else; at most 2,000 characters.")] = (
        None
    )


class AnswersOut(Struct, kw_only=True):
    satisfaction: int | None = None
    meeting_frequency: MeetingFrequency | None = None
    employment_outcome: EmploymentOutcome | None = None
    job_title: str | None = None
    comment: str | None = None


class CheckInOut(Struct, kw_only=True):
    id: uuid.UUID
    pairing_id: uuid.UUID
    cohort: Annotated[str, Meta(description="The cohort's slug.")]
    kind: CheckInKind
    respondent: Annotated[Respondent, Meta(description="Which side of the tandem answers it.")]
    respondent_name: str
    due_on: date
    completed_at: datetime | None
    questions: Annotated[
        list[str], Meta(description="The fields this check-in asks for, in the form's order.")
    ]
    answers: Annotated[
        AnswersOut | None,
        Meta(description="Once answered: for the respondent and the programme's coordinators."),
    ] = None
    url: Annotated[str, Meta(description="The check-in's page on this site.")]


class OutcomeCountOut(Struct, kw_only=True):
    outcome: EmploymentOutcome
    count: int


class OutcomesOut(Struct, kw_only=True):
    cohort: str
    answered: Annotated[
        int, Meta(description="Mentees who answered at least one follow-up (the latest counts).")
    ]
    counts: list[OutcomeCountOut]
    employed_in_field: Annotated[
        int, Meta(description="Employed in their own field or a related one.")
    ]
    share_employed_in_field: Annotated[
        float | None, Meta(description="employed_in_field / answered (0 to 1); null if none.")
    ]


__all__ = [
    "ALL_QUESTIONS",
    "FOLLOW_UP_QUESTIONS",
    "IN_FIELD",
    "MILESTONE_QUESTIONS",
    "AnswersOut",
    "CheckInAnswerIn",
    "CheckInOut",
    "CheckedAnswers",
    "MeetingFrequency",
    "OutcomeCountOut",
    "OutcomesOut",
    "check_answers",
    "questions_for",
]
