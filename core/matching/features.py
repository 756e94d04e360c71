"""What matching knows about people: one :class:`Person` each, and the same as numpy columns.

Criteria never loop over pairs in Python. They receive two :class:`Side` objects — a
block of mentees and all mentors — whose columns are numpy arrays with one row per
person, and broadcast them against each other (``a[:, None] == b[None, :]``). The
columns are made once per run by :func:`encode` from :class:`Person` records, which
come from accepted applications (:mod:`core.matching.candidates`), from an instance
file (:mod:`core.matching.instance`) or from the benchmark's generator.

Columns (``n`` people; every side has all of them):

==================  ===========  ===================================================
name                dtype/shape  meaning
==================  ===========  ===================================================
``occupation``      int32 (n,)   ISCO-08 code padded with zeros to four digits, as a
                                 number (``"2512"`` → 2512, ``"214"`` → 2140, ``"01"``
                                 → 100); ``code // 10`` is the minor group, ``// 100``
                                 the sub-major, ``// 1000`` the major; -1 unknown
``languages``       uint8 (n, L) CEFR level per language of
                                 :attr:`Vocabulary.languages`: 0 none, 1 A1 … 6 C2
``district``        int32 (n,)   index into :attr:`Vocabulary.districts`; -1 none
``location``        float32(n,2) latitude, longitude in degrees; NaN unknown
``availability``    uint32 (n,)  bit ``k`` set: free in slot ``Vocabulary.slots[k]``
``gender``          int32 (n,)   index into :attr:`Vocabulary.genders`; -1 not given
``same_gender``     bool (n,)    the mentee asked for a mentor of the same gender
``employer``        int32 (n,)   index into :attr:`Vocabulary.employers`; -1 none
``person``          int32 (n,)   index into :attr:`Vocabulary.persons` (the same
                                 human on both sides has the same index)
``years``           float32 (n,) years of experience in the field
``capacity``        int32 (n,)   places the mentor has left in this run (mentees: 1)
``load``            int32 (n,)   mentees the mentor already has (mentees: 0)
==================  ===========  ===================================================

Free-text values (district, employer, gender) are compared after :func:`fold`, so
"Siemens AG " and "siemens ag" are the same employer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.reference import availability, cefr

NO_LEVEL = 0
COLUMNS = (
    "occupation",
    "languages",
    "district",
    "location",
    "availability",
    "gender",
    "same_gender",
    "employer",
    "person",
    "years",
    "capacity",
    "load",
)


def fold(text: str | None) -> str:
    """The form free text is compared in: trimmed, inner spaces collapsed, case-folded."""
    return " ".join((text or "").split()).casefold()


def level_number(level: str | None) -> int:
    """CEFR level as stored in the ``languages`` column: 0 none, 1 A1 … 6 C2."""
    return NO_LEVEL if not level else cefr.rank(level) + 1


def occupation_number(code: str | None) -> int:
    """An ISCO-08 code of 1-4 digits as the ``occupation`` column holds it; -1 for none.

    Padding keeps the groups aligned whatever level someone chose: "214" (a minor
    group) is 2140, so ``// 10`` is 214 for it and for its units 2141-2149 alike.
    """
    return int(code.ljust(4, "0")) if code else -1


@dataclass(frozen=True)
class Person:
    """One mentee or mentor as matching sees them, in plain Python values.

    ``id`` is the caller's identifier (an application id, or an instance file's id);
    ``person`` says who the human is, so that nobody is matched with themselves.
    """

    id: str
    occupation: str | None = None  # ISCO-08 code, 1-4 digits
    languages: Mapping[str, str] = field(default_factory=dict)  # ISO 639 code -> CEFR
    district: str = ""
    location: tuple[float, float] | None = None  # (latitude, longitude)
    availability: tuple[str, ...] = ()  # slot ids, core.reference.availability.SLOTS
    gender: str = ""
    same_gender: bool = False
    employer: str = ""
    person: str = ""  # e-mail address or user id; "" = only this record
    years: float = 0.0
    capacity: int = 1
    load: int = 0
    name: str = ""  # shown in explanations and on pages, never compared


@dataclass(frozen=True)
class Vocabulary:
    """The values the integer columns index, shared by both sides of one run."""

    languages: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    genders: tuple[str, ...] = ()
    employers: tuple[str, ...] = ()
    persons: tuple[str, ...] = ()
    slots: tuple[str, ...] = tuple(availability.SLOTS)


@dataclass(frozen=True)
class Side:
    """One side of a run (or a block of its rows): ids, people and their columns."""

    ids: tuple[str, ...]
    columns: Mapping[str, np.ndarray]
    people: Sequence[Person] = ()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def rows(self, start: int, stop: int) -> Side:
        """Rows ``start:stop`` — views, no copies: how the scorer walks mentees in blocks."""
        return Side(
            self.ids[start:stop],
            {name: column[start:stop] for name, column in self.columns.items()},
            self.people[start:stop] if self.people else (),
        )

    def take(self, indices: Sequence[int] | np.ndarray) -> Side:
        """The rows at ``indices``, in that order (copies)."""
        picked = np.asarray(indices, dtype=np.int64)
        return Side(
            tuple(self.ids[i] for i in picked),
            {name: column[picked] for name, column in self.columns.items()},
            tuple(self.people[i] for i in picked) if self.people else (),
        )


def _index(values: Iterable[str]) -> dict[str, int]:
    return {value: number for number, value in enumerate(sorted(set(values) - {""}))}


def encode(mentees: Sequence[Person], mentors: Sequence[Person]) -> tuple[Side, Side, Vocabulary]:
    """Both sides as columns over one shared vocabulary (sorted, so runs are reproducible)."""
    everyone = [*mentees, *mentors]
    languages = _index(code for p in everyone for code in p.languages)
    districts = _index(fold(p.district) for p in everyone)
    genders = _index(fold(p.gender) for p in everyone)
    employers = _index(fold(p.employer) for p in everyone)
    persons = _index(fold(p.person) for p in everyone)
    vocabulary = Vocabulary(
        languages=tuple(languages),
        districts=tuple(districts),
        genders=tuple(genders),
        employers=tuple(employers),
        persons=tuple(persons),
    )
    slots = {slot: bit for bit, slot in enumerate(vocabulary.slots)}

    def side(people: Sequence[Person]) -> Side:
        n = len(people)
        levels = np.zeros((n, len(languages)), dtype=np.uint8)
        location = np.full((n, 2), np.nan, dtype=np.float32)
        for row, p in enumerate(people):
            for code, level in p.languages.items():
                levels[row, languages[code]] = level_number(level)
            if p.location is not None and all(math.isfinite(x) for x in p.location):
                location[row] = p.location
        columns = {
            "occupation": np.array(
                [occupation_number(p.occupation) for p in people], dtype=np.int32
            ),
            "languages": levels,
            "district": np.array([districts.get(fold(p.district), -1) for p in people], np.int32),
            "location": location,
            "availability": np.array(
                [sum(1 << slots[s] for s in set(p.availability)) for p in people], np.uint32
            ),
            "gender": np.array([genders.get(fold(p.gender), -1) for p in people], np.int32),
            "same_gender": np.array([p.same_gender for p in people], dtype=bool),
            "employer": np.array([employers.get(fold(p.employer), -1) for p in people], np.int32),
            "person": np.array([persons.get(fold(p.person), -1) for p in people], np.int32),
            "years": np.array([p.years for p in people], dtype=np.float32),
            "capacity": np.array([p.capacity for p in people], dtype=np.int32),
            "load": np.array([p.load for p in people], dtype=np.int32),
        }
        return Side(tuple(p.id for p in people), columns, tuple(people))

    return side(mentees), side(mentors), vocabulary
