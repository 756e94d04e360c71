"""What programmes and cohorts accept and return: one set of rules for pages, API and loaders.

Input arrives in three shapes — form fields (all text), JSON decoded into the
``*Create``/``*Patch`` structs below (typed), and plain Python values from a demo-data
loader — and goes through the same checks: :func:`check_programme` and
:func:`check_cohort` take a mapping of raw values, return the typed values to store
and raise :class:`InvalidInput` with one :class:`Problem` per field otherwise. A
problem holds the untranslated message; each edge translates it into the visitor's
language.

Rules that need the database (a slug already taken) live in
:mod:`core.programmes.services`; everything here is pure.

Decisions:

* **Slugs** follow the tenant slug pattern (lower-case letters, digits, inner hyphens,
  at most 63 characters). Left empty, one is made from the name. They are fixed once
  created: they are part of the public addresses (``/programmes/<slug>/cohorts/<slug>/
  apply/mentee``) that mails, flyers and partner sites link to.
* **Dates**: applications open on or before they close, and close no later than the
  day mentoring starts — intake talks and matching happen in between, so an
  application that arrives after the start could not be matched. Mentoring starts on
  or before it ends. All dates lie in 2000 to 2100, which catches a mistyped year.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, UnsetType

from core.i18n import N_
from core.i18n.catalogs import gettext
from core.programmes.models import Cadence, Cohort, Programme
from core.reference import cefr
from core.tenancy.hosts import SLUG_PATTERN

MAX_SLUG_LENGTH = 63
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 10_000
MIN_WEEKS, MAX_WEEKS = 1, 104
MIN_HOURS, MAX_HOURS = 1, 500
EARLIEST_DATE, LATEST_DATE = date(2000, 1, 1), date(2100, 12, 31)

PROGRAMME_FIELDS = (
    "slug",
    "name",
    "description",
    "duration_weeks",
    "expected_hours",
    "cadence",
    "self_matching",
    "published",
    "min_german_level",
    "requires_recognition_procedure",
)
COHORT_FIELDS = (
    "slug",
    "name",
    "applications_open_on",
    "applications_close_on",
    "starts_on",
    "ends_on",
)
PROGRAMME_DEFAULTS: dict[str, Any] = {
    "description": "",
    "expected_hours": None,
    "cadence": Cadence.FORTNIGHTLY,
    "self_matching": False,
    "published": True,
    "min_german_level": None,
    "requires_recognition_procedure": False,
}


MISSING = N_("Fill in this field.")
TOO_LONG = N_("Use at most %(max_length)s characters.")
ONE_LINE = N_("Use one line without control characters.")
NO_CONTROL = N_("Remove the control characters from this text.")
NOT_TEXT = N_("Enter a text.")
SLUG_INVALID = N_(
    "Use lower-case letters, digits and hyphens, starting and ending with a letter or "
    "digit (at most 63 characters), for example spring-2027."
)
SLUG_FIXED = N_("The short name is part of public addresses and cannot be changed.")
NAME_MISSING = N_("Enter a name.")
WHOLE_NUMBER = N_("Enter a whole number.")
WEEKS_RANGE = N_("Enter a number of weeks from %(min)s to %(max)s.")
HOURS_RANGE = N_("Enter a number of hours from %(min)s to %(max)s, or leave it empty.")
CHOICE = N_("Choose one of the options offered.")
YES_NO = N_("Choose yes or no.")
LEVEL = N_("Choose a level from A1 to C2, or none.")
DATE_INVALID = N_("Enter a date such as 2027-03-01.")
DATE_RANGE = N_("Enter a date between 2000 and 2100.")
CLOSE_BEFORE_OPEN = N_("Applications must close on or after the day they open.")
CLOSE_AFTER_START = N_("Applications must close no later than the day mentoring starts.")
END_BEFORE_START = N_("Mentoring must end on or after the day it starts.")
UNKNOWN_FIELD = N_("There is no such field.")
NOT_AN_OBJECT = N_("Send a JSON object with the fields to set.")


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field, untranslated (``values`` fill its placeholders)."""

    message: str
    values: Mapping[str, object] = field(default_factory=dict)

    def text(self, locale: str) -> str:
        return gettext(locale, self.message, **self.values)


class InvalidInput(ValueError):
    """The input breaks a rule; ``problems`` maps field names ("" for none) to problems."""

    def __init__(self, problems: Mapping[str, Problem]) -> None:
        super().__init__(", ".join(f"{k}: {p.message}" for k, p in problems.items()))
        self.problems = dict(problems)

    def messages(self, locale: str) -> dict[str, str]:
        return {key: problem.text(locale) for key, problem in self.problems.items()}


# --- reading one value --------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _text(raw: Any, max_length: int, *, required: str | None, multi_line: bool = False) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise _Bad(Problem(NOT_TEXT))
    value = raw.replace("\r\n", "\n").strip() if multi_line else raw.strip()
    if not value and required:
        raise _Bad(Problem(required))
    if len(value) > max_length:
        raise _Bad(Problem(TOO_LONG, {"max_length": max_length}))
    if multi_line:
        if any(not (c.isprintable() or c in "\n\t") for c in value):
            raise _Bad(Problem(NO_CONTROL))
    elif not value.isprintable():
        raise _Bad(Problem(ONE_LINE))
    return value


_INTEGER = re.compile(r"^-?[0-9]{1,9}$")


def _whole_number(
    raw: Any, low: int, high: int, range_message: str, *, optional: bool
) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if optional:
            return None
        raise _Bad(Problem(MISSING))
    if isinstance(raw, bool):
        raise _Bad(Problem(WHOLE_NUMBER))
    if isinstance(raw, str):
        text = raw.strip()
        if not _INTEGER.match(text):
            raise _Bad(Problem(WHOLE_NUMBER))
        raw = int(text)
    if not isinstance(raw, int):
        raise _Bad(Problem(WHOLE_NUMBER))
    if not low <= raw <= high:
        raise _Bad(Problem(range_message, {"min": low, "max": high}))
    return raw


def _bool(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise _Bad(Problem(YES_NO))
    return raw


def _cadence(raw: Any) -> Cadence:
    try:
        return Cadence(raw.strip() if isinstance(raw, str) else raw)
    except ValueError:
        raise _Bad(Problem(CHOICE)) from None


def _level(raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise _Bad(Problem(LEVEL))
    try:
        return cefr.normalise(raw)
    except cefr.UnknownLevelError:
        raise _Bad(Problem(LEVEL)) from None


_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _date(raw: Any) -> date:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise _Bad(Problem(MISSING))
    if isinstance(raw, str):
        text = raw.strip()
        if not _ISO_DATE.match(text):
            raise _Bad(Problem(DATE_INVALID))
        try:
            raw = date.fromisoformat(text)
        except ValueError:  # 2027-02-30
            raise _Bad(Problem(DATE_INVALID)) from None
    if not isinstance(raw, date):
        raise _Bad(Problem(DATE_INVALID))
    if not EARLIEST_DATE <= raw <= LATEST_DATE:
        raise _Bad(Problem(DATE_RANGE))
    return raw


def _slug(raw: Any) -> str:
    if not isinstance(raw, str):
        raise _Bad(Problem(SLUG_INVALID))
    value = raw.strip()
    if not SLUG_PATTERN.match(value):
        raise _Bad(Problem(SLUG_INVALID))
    return value


def slug_from_name(name: str) -> str:
    """A slug suggested by a name: "Frühjahr 2027" → "fruehjahr-2027" ("" if none fits)."""
    text = name.casefold().translate({ord("ä"): "ae", ord("ö"): "oe", ord("ü"): "ue"})
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:MAX_SLUG_LENGTH].rstrip("-")


# --- whole records ------------------------------------------------------------------------

_PROGRAMME_READERS: dict[str, Any] = {
    "name": lambda raw: _text(raw, MAX_NAME_LENGTH, required=NAME_MISSING),
    "description": lambda raw: _text(raw, MAX_DESCRIPTION_LENGTH, required=None, multi_line=True),
    "duration_weeks": lambda raw: _whole_number(
        raw, MIN_WEEKS, MAX_WEEKS, WEEKS_RANGE, optional=False
    ),
    "expected_hours": lambda raw: _whole_number(
        raw, MIN_HOURS, MAX_HOURS, HOURS_RANGE, optional=True
    ),
    "cadence": _cadence,
    "self_matching": _bool,
    "published": _bool,
    "min_german_level": _level,
    "requires_recognition_procedure": _bool,
}
_COHORT_READERS: dict[str, Any] = {
    "name": lambda raw: _text(raw, MAX_NAME_LENGTH, required=NAME_MISSING),
    "applications_open_on": _date,
    "applications_close_on": _date,
    "starts_on": _date,
    "ends_on": _date,
}


def _read(
    raw: Mapping[str, Any],
    fields: tuple[str, ...],
    readers: Mapping[str, Any],
    current: Programme | Cohort | None,
    defaults: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Problem]]:
    """Typed values for the fields to store, and the problems found.

    Creating (no ``current``): every field, missing ones from ``defaults`` (or a
    problem when required). Updating: only the fields in ``raw``.
    """
    values: dict[str, Any] = {}
    problems: dict[str, Problem] = {}
    for key in raw:
        if key not in fields:
            problems[key] = Problem(UNKNOWN_FIELD)
    for key in fields:
        if key == "slug":
            continue
        if key in raw:
            try:
                values[key] = readers[key](raw[key])
            except _Bad as bad:
                problems[key] = bad.problem
        elif current is None:
            if key in defaults:
                values[key] = defaults[key]
            else:
                problems[key] = Problem(NAME_MISSING if key == "name" else MISSING)
    if current is None:
        given = raw.get("slug")
        if given is None or (isinstance(given, str) and not given.strip()):
            given = slug_from_name(values.get("name", ""))
            if not given and "name" in values:
                problems["slug"] = Problem(SLUG_INVALID)
        if given:
            try:
                values["slug"] = _slug(given)
            except _Bad as bad:
                problems["slug"] = bad.problem
    elif "slug" in raw and raw["slug"] != current.slug:
        problems["slug"] = Problem(SLUG_FIXED)
    return values, problems


def check_programme(raw: Mapping[str, Any], current: Programme | None = None) -> dict[str, Any]:
    """The values to store for a new programme (``current`` None) or a change to one."""
    values, problems = _read(raw, PROGRAMME_FIELDS, _PROGRAMME_READERS, current, PROGRAMME_DEFAULTS)
    if problems:
        raise InvalidInput(problems)
    return values


def check_cohort(raw: Mapping[str, Any], current: Cohort | None = None) -> dict[str, Any]:
    """The values to store for a new cohort (``current`` None) or a change to one.

    The date rules are checked on the cohort as it will be: a change to one date is
    compared with the stored others.
    """
    values, problems = _read(raw, COHORT_FIELDS, _COHORT_READERS, current, {})

    def final(key: str) -> date | None:
        if key in problems:
            return None
        if key in values:
            return values[key]  # type: ignore[no-any-return]
        return getattr(current, key) if current is not None else None

    opens, closes = final("applications_open_on"), final("applications_close_on")
    starts, ends = final("starts_on"), final("ends_on")
    if opens and closes and closes < opens:
        problems.setdefault("applications_close_on", Problem(CLOSE_BEFORE_OPEN))
    if closes and starts and closes > starts:
        problems.setdefault("applications_close_on", Problem(CLOSE_AFTER_START))
    if starts and ends and ends < starts:
        problems.setdefault("ends_on", Problem(END_BEFORE_START))
    if problems:
        raise InvalidInput(problems)
    return values


# --- the JSON API's shapes ------------------------------------------------------------------

Slug = Annotated[
    str,
    Meta(
        description="Lower-case letters, digits and inner hyphens, at most 63 characters. "
        "Part of public addresses; fixed once created. Made from the name when empty.",
        examples=["mentoring-2027"],
    ),
]
Name = Annotated[str, Meta(description="At most 200 characters, one line.")]
Weeks = Annotated[int, Meta(description="How long a tandem runs: 1 to 104 weeks.", examples=[16])]
Hours = Annotated[
    int | None,
    Meta(description="Hours a tandem is expected to meet in all: 1 to 500, or null for no target."),
]
Level = Annotated[
    str | None,
    Meta(description="Eligibility: the least German level (CEFR), or null.", examples=["B1"]),
]
Day = Annotated[date, Meta(description="A day, as YYYY-MM-DD, between 2000 and 2100.")]


class ProgrammeCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    """A new programme. Defaults as shown; only ``name`` and ``duration_weeks`` are needed."""

    name: Name
    duration_weeks: Weeks
    slug: Slug = ""
    description: str = ""
    expected_hours: Hours = None
    cadence: Cadence = Cadence.FORTNIGHTLY
    self_matching: bool = False
    published: bool = True
    min_german_level: Level = None
    requires_recognition_procedure: bool = False


class ProgrammePatch(Struct, kw_only=True, forbid_unknown_fields=True):
    """Changes to a programme: the fields sent are set, the others stay as they are."""

    slug: (
        Annotated[str, Meta(description="Fixed once created; may only repeat it.")] | UnsetType
    ) = UNSET
    name: Name | UnsetType = UNSET
    description: str | UnsetType = UNSET
    duration_weeks: Weeks | UnsetType = UNSET
    expected_hours: Hours | UnsetType = UNSET
    cadence: Cadence | UnsetType = UNSET
    self_matching: bool | UnsetType = UNSET
    published: bool | UnsetType = UNSET
    min_german_level: Level | UnsetType = UNSET
    requires_recognition_procedure: bool | UnsetType = UNSET


class CohortCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    """A new cohort (intake). Applications close no later than mentoring starts."""

    name: Name
    applications_open_on: Day
    applications_close_on: Day
    starts_on: Day
    ends_on: Day
    slug: Annotated[str, Meta(description="Unique among all cohorts of this organisation.")] = ""


class CohortPatch(Struct, kw_only=True, forbid_unknown_fields=True):
    """Changes to a cohort: the fields sent are set, the others stay as they are."""

    slug: (
        Annotated[str, Meta(description="Fixed once created; may only repeat it.")] | UnsetType
    ) = UNSET
    name: Name | UnsetType = UNSET
    applications_open_on: Day | UnsetType = UNSET
    applications_close_on: Day | UnsetType = UNSET
    starts_on: Day | UnsetType = UNSET
    ends_on: Day | UnsetType = UNSET


def given_fields(data: Struct) -> dict[str, Any]:
    """The fields a decoded request body set (``UNSET`` ones left out)."""
    return {
        name: value
        for name in data.__struct_fields__
        if (value := getattr(data, name)) is not UNSET
    }


class CohortStatus(StrEnum):
    """Where a cohort stands today, from its dates."""

    UPCOMING = "upcoming"  # applications have not opened yet
    APPLICATIONS_OPEN = "applications_open"
    MATCHING = "matching"  # applications closed, mentoring not started: intake and matching
    RUNNING = "running"
    FINISHED = "finished"


class FieldError(Struct, kw_only=True):
    key: Annotated[str, Meta(description='The field ("" for the request as a whole).')]
    message: Annotated[str, Meta(description="What is wrong, in the visitor's language.")]
    source: str = "body"


class Problem422(Struct, kw_only=True):
    """A problem document (RFC 9457) naming each field that breaks a rule."""

    type: str
    title: str
    status: int
    errors: list[FieldError]


class ProgrammeOut(Struct, kw_only=True):
    slug: str
    name: str
    description: str
    duration_weeks: int
    expected_hours: int | None
    cadence: Cadence
    self_matching: bool
    published: bool
    min_german_level: str | None
    requires_recognition_procedure: bool
    url: Annotated[str, Meta(description="The public programme page on this site.")]


class CohortOut(Struct, kw_only=True):
    slug: str
    name: str
    programme: Annotated[str, Meta(description="The programme's slug.")]
    applications_open_on: date
    applications_close_on: date
    starts_on: date
    ends_on: date
    status: CohortStatus
    apply_as_mentee_url: Annotated[
        str | None, Meta(description="The mentee application form while applications are open.")
    ]
    apply_as_mentor_url: Annotated[
        str | None, Meta(description="The mentor application form while applications are open.")
    ]


__all__ = [
    "COHORT_FIELDS",
    "PROGRAMME_FIELDS",
    "CohortCreate",
    "CohortOut",
    "CohortPatch",
    "CohortStatus",
    "InvalidInput",
    "Problem",
    "ProgrammeCreate",
    "ProgrammeOut",
    "ProgrammePatch",
    "check_cohort",
    "check_programme",
    "given_fields",
    "slug_from_name",
]
