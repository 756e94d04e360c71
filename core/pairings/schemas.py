"""What pairings, agreements and meetings accept and return: one set of rules for pages,
API and loaders.

Meetings and agreement goals arrive as form fields (all text), as JSON decoded into the
``*In`` structs below, or as plain values from a demo-data loader; all go through
:func:`check_meeting` and :func:`check_goals`, which return the values to store or raise
:class:`~core.programmes.schemas.InvalidInput` with one untranslated
:class:`~core.programmes.schemas.Problem` per field (the programmes domain's, shared so
that every edge translates problems the same way).

Rules that need the pairing (the earliest date of a meeting is the day it was proposed)
take it as an argument; everything here is pure.

The ``*Out`` structs are the JSON API's answers. Meeting notes are private to the pair:
:class:`MeetingOut` has ``notes`` only for participants (``None`` for coordinators), and
the pages follow the same rule.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from msgspec import Meta, Struct

from core.i18n import N_
from core.pairings.lifecycle import Action, Actor, PairingState
from core.pairings.models import MeetingFormat
from core.programmes.schemas import (
    CHOICE,
    DATE_INVALID,
    MISSING,
    NO_CONTROL,
    NOT_TEXT,
    TOO_LONG,
    WHOLE_NUMBER,
    InvalidInput,
    Problem,
)

MIN_MINUTES, MAX_MINUTES = 15, 12 * 60
MAX_TOPIC_LENGTH = 200  # the column's length
MAX_NOTES_LENGTH = 10_000
MAX_GOALS_LENGTH = 10_000
MAX_REASON_LENGTH = 2_000
MEETING_FIELDS = ("held_on", "minutes", "format", "topic", "notes")

MEETING_IN_FUTURE = N_("The meeting cannot be in the future. Log it once it has taken place.")
MEETING_TOO_EARLY = N_(
    "The meeting cannot be before the tandem was proposed (%(date)s). Check the date."
)
MINUTES_RANGE = N_("A meeting lasts from 15 minutes to 12 hours (720 minutes).")
TOPIC_MISSING = N_("Enter what the meeting was about.")
GOALS_MISSING = N_("Write down at least one goal.")


@dataclass(frozen=True)
class MeetingData:
    """A checked meeting, ready to store."""

    held_on: date
    minutes: int
    format: MeetingFormat
    topic: str
    notes: str


class _Bad(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _text(raw: Any, max_length: int, *, required: str | None) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise _Bad(Problem(NOT_TEXT))
    value = raw.replace("\r\n", "\n").strip()
    if not value and required:
        raise _Bad(Problem(required))
    if len(value) > max_length:
        raise _Bad(Problem(TOO_LONG, {"max_length": max_length}))
    if any(not (c.isprintable() or c in "\n\t") for c in value):
        raise _Bad(Problem(NO_CONTROL))
    return value


_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_MINUTES = re.compile(r"^[0-9]{1,6}$")


def _held_on(raw: Any, today: date, earliest: date) -> date:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise _Bad(Problem(MISSING))
    if isinstance(raw, str):
        if not _ISO_DATE.match(raw.strip()):
            raise _Bad(Problem(DATE_INVALID))
        try:
            raw = date.fromisoformat(raw.strip())
        except ValueError:  # 2027-02-30
            raise _Bad(Problem(DATE_INVALID)) from None
    if not isinstance(raw, date) or isinstance(raw, datetime):
        raise _Bad(Problem(DATE_INVALID))
    if raw > today:
        raise _Bad(Problem(MEETING_IN_FUTURE))
    if raw < earliest:
        raise _Bad(Problem(MEETING_TOO_EARLY, {"date": earliest.isoformat()}))
    return raw


def _minutes(raw: Any) -> int:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise _Bad(Problem(MISSING))
    if isinstance(raw, str):
        if not _MINUTES.match(raw.strip()):
            raise _Bad(Problem(WHOLE_NUMBER))
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _Bad(Problem(WHOLE_NUMBER))
    if not MIN_MINUTES <= raw <= MAX_MINUTES:
        raise _Bad(Problem(MINUTES_RANGE))
    return raw


def _format(raw: Any) -> MeetingFormat:
    try:
        return MeetingFormat(raw.strip() if isinstance(raw, str) else raw)
    except ValueError:
        raise _Bad(Problem(CHOICE)) from None


def check_meeting(raw: Mapping[str, Any], *, today: date, earliest: date) -> MeetingData:
    """The meeting to store, or InvalidInput naming each wrong field.

    ``earliest`` is the day the tandem was proposed; ``today`` the current day (UTC).
    """
    readers: dict[str, Any] = {
        "held_on": lambda value: _held_on(value, today, earliest),
        "minutes": _minutes,
        "format": _format,
        "topic": lambda value: _text(value, MAX_TOPIC_LENGTH, required=TOPIC_MISSING),
        "notes": lambda value: _text(value, MAX_NOTES_LENGTH, required=None),
    }
    values: dict[str, Any] = {}
    problems: dict[str, Problem] = {}
    for key, reader in readers.items():
        try:
            values[key] = reader(raw.get(key))
        except _Bad as bad:
            problems[key] = bad.problem
    if problems:
        raise InvalidInput(problems)
    return MeetingData(**values)


def check_goals(raw: Any) -> str:
    """The agreement's goals to store; InvalidInput under the key ``goals`` otherwise."""
    try:
        return _text(raw, MAX_GOALS_LENGTH, required=GOALS_MISSING)
    except _Bad as bad:
        raise InvalidInput({"goals": bad.problem}) from None


def check_reason(raw: Any) -> str:
    """A reason given with an action (optional here; dissolving requires one)."""
    try:
        return _text(raw, MAX_REASON_LENGTH, required=None)
    except _Bad as bad:
        raise InvalidInput({"reason": bad.problem}) from None


# --- the JSON API's shapes ------------------------------------------------------------------

Version = Annotated[
    int,
    Meta(
        ge=0,
        description="The version you last saw. If someone else changed the record since, "
        "the answer is 409 with the current state and nothing is changed.",
    ),
]


class ProposalIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """Propose a tandem: an accepted mentee and an accepted mentor of one cohort."""

    cohort: Annotated[str, Meta(description="The cohort's slug.", examples=["2027-spring"])]
    mentee_application_id: uuid.UUID
    mentor_application_id: uuid.UUID


class ActionIn(Struct, kw_only=True, forbid_unknown_fields=True):
    version: Version
    reason: Annotated[
        str, Meta(description="Why (required to dissolve; kept for decline and withdraw).")
    ] = ""
    as_actor: Annotated[
        Actor | None,
        Meta(description="The role to act in, for someone who holds several in this tandem."),
    ] = None


class GoalsIn(Struct, kw_only=True, forbid_unknown_fields=True):
    goals: Annotated[
        str, Meta(description="The goals the pair agreed on; at most 10,000 characters.")
    ]
    version: Annotated[
        int, Meta(ge=0, description="The agreement's version you last saw; 0 if there was none.")
    ]


class AgreementAcceptIn(Struct, kw_only=True, forbid_unknown_fields=True):
    version: Annotated[int, Meta(ge=1, description="The agreement's version you accept.")]
    as_actor: Actor | None = None


class MeetingIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """A meeting that took place: not in the future, not before the tandem was proposed."""

    held_on: Annotated[date, Meta(description="The day it took place.")]
    minutes: Annotated[int, Meta(description="How long, from 15 to 720 minutes.", examples=[90])]
    format: MeetingFormat
    topic: Annotated[str, Meta(description="What it was about; at most 200 characters.")]
    notes: Annotated[str, Meta(description="Private to the pair: coordinators never see them.")] = (
        ""
    )


class PersonOut(Struct, kw_only=True):
    application_id: uuid.UUID
    name: str
    email: Annotated[
        str | None,
        Meta(description="Shown to the partner once the tandem is active, and to coordinators."),
    ] = None


class PairingOut(Struct, kw_only=True):
    id: uuid.UUID
    cohort: str
    state: PairingState
    version: int
    mentee: PersonOut
    mentor: PersonOut
    proposed_at: datetime
    mentee_accepted_at: datetime | None
    mentor_accepted_at: datetime | None
    activated_at: datetime | None
    paused_at: datetime | None
    ended_at: datetime | None
    reason: str
    at_risk_since: datetime | None
    minutes_logged: int
    expected_hours: int | None
    your_roles: Annotated[
        list[Actor], Meta(description="What you are in this tandem: mentee, mentor, coordinator.")
    ]
    available_actions: Annotated[list[Action], Meta(description="What you may do now.")]
    score: Annotated[float | None, Meta(description="Matching score (coordinators only).")] = None


class AgreementOut(Struct, kw_only=True):
    pairing_id: uuid.UUID
    goals: str
    version: Annotated[int, Meta(description="0 while nothing has been written yet.")]
    mentee_accepted_at: datetime | None
    mentor_accepted_at: datetime | None
    updated_at: datetime | None


class MeetingOut(Struct, kw_only=True):
    id: uuid.UUID
    pairing_id: uuid.UUID
    held_on: date
    minutes: int
    format: MeetingFormat
    topic: str
    notes: Annotated[str | None, Meta(description="Only for the pair; null for coordinators.")] = (
        None
    )
