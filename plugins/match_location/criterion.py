"""The location criterion: the same district scores 1, nearby districts nearly as much."""

from __future__ import annotations

import math

import numpy as np
from babel.numbers import format_decimal

from core.matching.criteria import Criterion, CriterionKind, Factored
from core.matching.features import Person, Side, Vocabulary, fold
from plugins.match_location.settings import PLUGIN_ID, LocationSettings
from plugins.match_support import N_, MentorMemo, number, sentence, who

LABEL = N_("Distance")
SAME = N_("%(mentee)s and %(mentor)s live in the same district: %(district)s.")
APART = N_(
    "%(mentee)s (%(mentee_place)s) and %(mentor)s (%(mentor_place)s) live about %(km)s km apart."
)
UNKNOWN = N_("Where %(mentee)s or %(mentor)s lives is not known.")
EARTH_KM = 6371.0
KM_PER_DEGREE = math.pi * EARTH_KM / 180  # along a meridian
TILE_PAIRS = 1 << 17  # pairs per tile of the distance passes: two float32 tiles fit in L2


class LocationCriterion(Criterion):
    kind = CriterionKind.SCORE
    label = LABEL

    def __init__(self, settings: LocationSettings, id: str = PLUGIN_ID) -> None:
        self.id = id
        self.weight = settings.weight
        self.max_km = settings.max_km
        self.unknown_score = settings.unknown_score
        self.centres = settings.centres()
        self.names = {fold(name): name.strip() for name in settings.districts}
        # Where the distances are measured true to scale: the middle of the districts.
        known = [lat for lat, _ in self.centres.values()]
        self.latitude = sum(known) / len(known) if known else None
        # The mentors' places: every block of a run is scored against the same mentors,
        # and finding their distinct places costs more than the block's distances.
        self._mentors = MentorMemo()

    def evaluate(
        self, mentees: Side, mentors: Side, vocabulary: Vocabulary
    ) -> np.ndarray | Factored:
        # Centres once per call, in the vocabulary's order: the district column indexes it.
        known = [self.centres.get(name, (math.nan, math.nan)) for name in vocabulary.districts]
        centres = np.array(known, dtype=np.float64).reshape(-1, 2)
        places_a, profile_a = _places(mentees, centres)
        places_b, profile_b = self._mentors.get(mentors, centres, lambda: _places(mentors, centres))
        # Where most people have a place of their own (their own coordinates), the
        # table of distinct places is nearly as large as the block: such a side is
        # scored person by person, and with both sides so, the table is the answer.
        rows = None if _mostly_distinct(places_a, profile_a) else profile_a
        cols = None if _mostly_distinct(places_b, profile_b) else profile_b
        table = self._table(
            places_a if rows is not None else places_a[profile_a],
            places_b if cols is not None else places_b[profile_b],
        )
        if rows is None and cols is None:
            return table
        return Factored(
            table,
            rows if rows is not None else np.arange(len(profile_a)),
            cols if cols is not None else np.arange(len(profile_b)),
        )

    def _table(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Scores between places, rows (district, latitude, longitude).

        Usually a few dozen places a side; but where everyone has coordinates of their
        own it is as large as the block. So the pair passes are float32, in place,
        over tiles of rows that stay in the CPU cache, and without per-pair masks:
        an unknown place (NaN) is a whole row or column, filled afterwards, and the
        same district raises a pair to 1 with a maximum, not a masked copy.
        """
        latitude = self.latitude if self.latitude is not None else _rounded_mean(b[:, 1])
        east_a, north_a = _plane(a, latitude)
        east_b, north_b = _plane(b, latitude)
        lost_a = np.isnan(east_a) | np.isnan(north_a)
        lost_b = np.isnan(east_b) | np.isnan(north_b)
        for side, lost in ((east_a, lost_a), (north_a, lost_a), (east_b, lost_b)):
            side[lost] = 0  # such rows and columns are filled with unknown_score below
        north_b[lost_b] = 0
        # District numbers (-1: none): equal and known is the same district.
        district_a = np.where(a[:, 0] >= 0, a[:, 0], -1).astype(np.int32)
        district_b = np.where(b[:, 0] >= 0, b[:, 0], -2).astype(np.int32)
        score = np.empty((len(a), len(b)), dtype=np.float32)
        rows = max(1, TILE_PAIRS // max(len(b), 1))
        north = np.empty((min(rows, len(a)), len(b)), dtype=np.float32)
        same = np.empty(north.shape, dtype=bool)
        for start in range(0, len(a), rows):
            stop = min(start + rows, len(a))
            tile, other, equal = score[start:stop], north[: stop - start], same[: stop - start]
            np.subtract(east_a[start:stop, None], east_b[None, :], out=tile)
            np.square(tile, out=tile)
            np.subtract(north_a[start:stop, None], north_b[None, :], out=other)
            np.square(other, out=other)
            np.add(tile, other, out=tile)
            np.sqrt(tile, out=tile)
            np.multiply(tile, np.float32(1 / self.max_km), out=tile)  # km / max
            np.subtract(np.float32(1), tile, out=tile)
            np.maximum(tile, np.float32(0), out=tile)  # 1 - km / max is at most 1 already
            tile[lost_a[start:stop]] = np.float32(self.unknown_score)
            tile[:, lost_b] = np.float32(self.unknown_score)
            np.equal(district_a[start:stop, None], district_b[None, :], out=equal)
            np.maximum(tile, equal, out=tile)
        return score

    def coordinates(self, person: Person) -> tuple[float, float] | None:
        if person.location is not None and all(math.isfinite(x) for x in person.location):
            return person.location
        return self.centres.get(fold(person.district))

    def _name(self, district: str) -> str:
        """A district as the settings spell it ("maxvorstadt" → "Maxvorstadt")."""
        return self.names.get(fold(district), district.strip())

    def _place(self, person: Person, point: tuple[float, float], locale: str) -> str:
        if person.district.strip():
            return self._name(person.district)
        return ", ".join(format_decimal(x, format="0.###", locale=locale) for x in point)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        names = {"mentee": who(mentee), "mentor": who(mentor)}
        if fold(mentee.district) and fold(mentee.district) == fold(mentor.district):
            return sentence(locale, SAME, district=self._name(mentee.district), **names)
        a, b = self.coordinates(mentee), self.coordinates(mentor)
        if a is None or b is None:
            return sentence(locale, UNKNOWN, **names)
        km = _km(a, b)
        places = {
            "mentee_place": self._place(mentee, a, locale),
            "mentor_place": self._place(mentor, b, locale),
        }
        return sentence(locale, APART, km=number(km, locale), **places, **names)


def _places(side: Side, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each person's place — district, latitude, longitude (their own location, else
    their district's centre) — as distinct places and each person's index into them."""
    district = side["district"]
    point = side["location"].astype(np.float64)
    missing = np.isnan(point).any(axis=1) & (district >= 0)
    point[missing] = centres[district[missing]]
    point[np.isnan(point).any(axis=1)] = np.nan  # one NaN for all, so they compare equal
    key = np.column_stack([district.astype(np.int64), point.view(np.int64)])
    distinct, profile = np.unique(key, axis=0, return_inverse=True)
    places = np.column_stack([distinct[:, 0].astype(np.float64), distinct[:, 1:].view(np.float64)])
    return places, profile.reshape(-1)


def _mostly_distinct(places: np.ndarray, profile: np.ndarray) -> bool:
    return len(places) * 2 > len(profile)


def _plane(places: np.ndarray, latitude: float) -> tuple[np.ndarray, np.ndarray]:
    """Places as kilometres east and north on a plane true to scale at ``latitude``.

    Within a city region the error against the great circle is far below a district's
    size. It also keeps the pair passes to subtraction, multiplication and a square
    root, which IEEE floats round exactly the same in numpy's vector and scalar paths:
    a pair's score is a function of the two places, whichever block it is scored in.
    """
    east = places[:, 2] * (KM_PER_DEGREE * math.cos(math.radians(latitude)))
    north = places[:, 1] * KM_PER_DEGREE
    return east.astype(np.float32), north.astype(np.float32)


def _rounded_mean(latitudes: np.ndarray) -> float:
    """Without configured districts: the mentors' middle latitude, to the whole degree
    (so that a few mentors more or less in a call do not change any score)."""
    known = latitudes[~np.isnan(latitudes)]
    return float(np.round(known.mean())) if known.size else 0.0


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The great-circle distance of two points, for one sentence."""
    lat_a, lon_a, lat_b, lon_b = map(math.radians, (*a, *b))
    h = math.sin((lat_b - lat_a) / 2) ** 2
    h += math.cos(lat_a) * math.cos(lat_b) * math.sin((lon_b - lon_a) / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(min(1.0, h)))
