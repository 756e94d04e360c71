"""The eight built-in matching criteria plugins (``plugins/match_*``).

Each criterion is checked on small hand-built cohorts (exact values), against a
pair-by-pair reference written plainly in Python on random cohorts, for its sentences
in German and English, for its settings' errors, and for the properties the scorer
relies on: the right shape and dtype, and the same values whichever blocks of mentees
it is given.
"""

from __future__ import annotations

import math
import tomllib
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from core.matching.criteria import Criterion, CriterionKind, Factored, as_matrix
from core.matching.features import Person, Side, Vocabulary, encode, fold, level_number
from core.matching.problem import Problem
from core.matching.scoring import score_pairs, score_rows
from core.pluginhost import PluginSettingsError
from core.pluginhost.manager import PluginHost
from core.reference import availability, languages
from core.tenancy.models import TenantStatus
from core.tenancy.snapshot import TenantSnapshot
from plugins.match_availability.criterion import AvailabilityCriterion
from plugins.match_availability.settings import AvailabilitySettings
from plugins.match_capacity.criterion import CapacityCriterion
from plugins.match_capacity.settings import CapacitySettings
from plugins.match_conflict.criterion import ConflictCriterion
from plugins.match_conflict.settings import ConflictSettings
from plugins.match_gender.criterion import GenderCriterion
from plugins.match_gender.settings import GenderSettings
from plugins.match_language.criterion import LanguageLevel, SharedLanguage
from plugins.match_language.settings import LanguageSettings
from plugins.match_location.criterion import LocationCriterion
from plugins.match_location.settings import LocationSettings
from plugins.match_occupation.criterion import OccupationCriterion
from plugins.match_occupation.settings import OccupationSettings
from plugins.match_seniority.criterion import SeniorityCriterion
from plugins.match_seniority.settings import SenioritySettings

ROOT = Path(__file__).resolve().parent.parent
MATCH_PLUGINS = (
    "match_occupation",
    "match_language",
    "match_location",
    "match_availability",
    "match_gender",
    "match_capacity",
    "match_conflict",
    "match_seniority",
)
EVENING, DAY, WEEKEND_DAY, WEEKEND_EVENING = (
    "weekday_evening",
    "weekday_daytime",
    "weekend_daytime",
    "weekend_evening",
)


def person(id: str, **values: Any) -> Person:
    return Person(id=id, name=id.title(), **values)


def evaluate(
    criterion: Criterion, mentees: Sequence[Person], mentors: Sequence[Person]
) -> np.ndarray:
    """The criterion's answer for every pair, checked as the scorer checks it."""
    a, b, vocabulary = encode(mentees, mentors)
    result = criterion.evaluate(a, b, vocabulary)
    shape = (len(mentees), len(mentors))
    if isinstance(result, Factored):  # a score as a table over distinct values
        assert criterion.kind is CriterionKind.SCORE and result.shape == shape
        assert result.table.dtype == np.float32
        return np.asarray(as_matrix(result, criterion, shape))
    assert isinstance(result, np.ndarray)
    # A value of one side alone may come as one row or column: the scorer broadcasts it.
    assert result.shape in (shape, (1, shape[1]), (shape[0], 1))
    expected = bool if criterion.kind is CriterionKind.FILTER else np.float32
    assert result.dtype == expected
    return as_matrix(result, criterion, shape)


def equal(result: np.ndarray, expected: list[list[Any]]) -> None:
    np.testing.assert_array_equal(result, np.array(expected, dtype=result.dtype))


def both_locales(criterion: Criterion, mentee: Person, mentor: Person) -> tuple[str, str]:
    return criterion.explain(mentee, mentor, "en"), criterion.explain(mentee, mentor, "de")


# --- occupation ---------------------------------------------------------------------------


def occupation(**settings: Any) -> OccupationCriterion:
    return OccupationCriterion(OccupationSettings(**settings))


def test_occupation_scores_by_the_deepest_shared_isco_level():
    mentees = [person("olena", occupation="2142"), person("ali", occupation="2512"), person("x")]
    mentors = [
        person(f"m{code}", occupation=code) for code in ("2142", "2146", "2151", "2211", "5120", "")
    ]
    result = evaluate(occupation(), mentees, mentors)
    equal(
        result,
        [[1.0, 0.8, 0.6, 0.3, 0.0, 0.0], [0.3, 0.3, 0.3, 0.3, 0.0, 0.0], [0.0] * 6],
    )
    custom = occupation(weight=5, same_minor_group=0.5, same_sub_major_group=0.5)
    assert custom.weight == 5 and custom.kind is CriterionKind.SCORE
    equal(evaluate(custom, mentees[:1], mentors), [[1.0, 0.5, 0.5, 0.3, 0.0, 0.0]])


def test_occupation_compares_codes_of_different_lengths_by_their_groups():
    # Applications hold 2- and 3-digit codes: "214" is a minor group, "21" a sub-major.
    mentees = [person("a", occupation="214"), person("b", occupation="21")]
    mentors = [person(f"m{c}", occupation=c) for c in ("214", "2142", "215", "21", "222")]
    equal(
        evaluate(occupation(), mentees, mentors),
        [[1.0, 0.8, 0.6, 0.6, 0.3], [0.6, 0.6, 0.6, 1.0, 0.3]],
    )


def test_occupation_explains_with_titles_in_the_readers_language():
    crit = occupation()
    olena = person("olena", occupation="214")
    assert both_locales(crit, olena, person("thomas", occupation="214")) == (
        "Olena and Thomas work in the same occupation: "
        "Engineering professionals (excluding electrotechnology).",
        "Olena und Thomas arbeiten im selben Beruf: Ingenieurwesen (ohne Elektrotechnik).",
    )
    assert both_locales(crit, olena, person("sabine", occupation="222")) == (
        "Olena (Engineering professionals (excluding electrotechnology)) and Sabine "
        "(Nursing and midwifery professionals) work in related occupations, both in "
        "Professionals.",
        "Olena (Ingenieurwesen (ohne Elektrotechnik)) und Sabine (Pflege und Hebammenwesen "
        "(akademisch)) arbeiten in verwandten Berufen, beide im Bereich Akademische Berufe.",
    )
    # Finer codes than the titles: the shared title is said once.
    en, de = both_locales(crit, person("a", occupation="2142"), person("b", occupation="2146"))
    assert en == (
        "A and B work in related occupations, both in "
        "Engineering professionals (excluding electrotechnology)."
    )
    assert de.startswith("A und B arbeiten in verwandten Berufen, beide im Bereich Ingenieur")
    assert both_locales(crit, olena, person("k", occupation="51")) == (
        "Olena (Engineering professionals (excluding electrotechnology)) and K "
        "(Personal service workers) work in unrelated occupations.",
        "Olena (Ingenieurwesen (ohne Elektrotechnik)) und K (Personenbezogene "
        "Dienstleistungen) arbeiten in nicht verwandten Berufen.",
    )
    assert both_locales(crit, olena, person("n")) == (
        "The occupation of Olena or N is not known.",
        "Der Beruf von Olena oder N ist nicht bekannt.",
    )


# --- language -----------------------------------------------------------------------------

MENTEE_LANGUAGES = [
    person("olena", languages={"de": "B2", "uk": "C2"}),
    person("ali", languages={"de": "A2", "en": "C1"}),
    person("nobody"),
]
MENTOR_LANGUAGES = [
    person("thomas", languages={"de": "C2", "en": "B2"}),
    person("sabine", languages={"de": "B1"}),
    person("iryna", languages={"uk": "C1"}),
    person("james", languages={"en": "C2"}),
]


def test_language_level_is_the_best_shared_level_from_the_minimum_up():
    settings = LanguageSettings()
    score = evaluate(LanguageLevel(settings), MENTEE_LANGUAGES, MENTOR_LANGUAGES)
    # B1 is 1/4, B2 2/4, C1 3/4, C2 1: for each language the lower of the two levels.
    equal(score, [[0.5, 0.25, 0.75, 0.0], [0.5, 0.0, 0.0, 0.75], [0.0] * 4])
    shared = evaluate(SharedLanguage(settings), MENTEE_LANGUAGES, MENTOR_LANGUAGES)
    equal(shared, score > 0)
    assert [c.id for c in (SharedLanguage(settings), LanguageLevel(settings))] == [
        "match_language.shared",
        "match_language.level",
    ]


def test_meeting_languages_and_minimum_level_narrow_what_counts():
    german = LanguageSettings(languages=["de"])
    equal(
        evaluate(LanguageLevel(german), MENTEE_LANGUAGES, MENTOR_LANGUAGES),
        [[0.5, 0.25, 0.0, 0.0], [0.0] * 4, [0.0] * 4],
    )
    c1 = LanguageSettings(min_level="C1")  # two thresholds: C1 is 1/2, C2 is 1
    equal(
        evaluate(LanguageLevel(c1), MENTEE_LANGUAGES, MENTOR_LANGUAGES),
        [[0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.5], [0.0] * 4],
    )
    fluent = [person("a", languages={"fr": "C2"})]
    equal(evaluate(LanguageLevel(c1), fluent, fluent), [[1.0]])


def test_more_than_64_languages_are_compared_in_several_words():
    codes = sorted(languages.CODES)[:70]
    polyglot = person("p", languages={codes[0]: "B1", codes[69]: "C1"})
    mentors = [
        person("late", languages={codes[0]: "C2", codes[69]: "C2"}),
        person("early", languages={codes[0]: "C2"}),
        person("other", languages={code: "C2" for code in codes[1:69]}),
    ]
    settings = LanguageSettings()
    equal(evaluate(LanguageLevel(settings), [polyglot], mentors), [[0.75, 0.25, 0.0]])
    equal(evaluate(SharedLanguage(settings), [polyglot], mentors), [[True, True, False]])


def test_language_explanations():
    crit = LanguageLevel(LanguageSettings())
    olena, ali, nobody = MENTEE_LANGUAGES
    thomas, sabine = MENTOR_LANGUAGES[:2]
    assert both_locales(crit, olena, thomas) == (
        "Olena and Thomas can meet in German (both at level B2 or higher).",
        "Olena und Thomas können sich auf Deutsch verständigen (beide mindestens auf Niveau B2).",
    )
    two = person("t", languages={"de": "C2", "en": "C1"})
    assert both_locales(crit, person("o", languages={"de": "C1", "en": "C2"}), two) == (
        "O and T can meet in German and English (both at level C1 or higher).",
        "O und T können sich auf Deutsch und Englisch verständigen "
        "(beide mindestens auf Niveau C1).",
    )
    assert both_locales(crit, ali, sabine) == (
        "Ali and Sabine share no language at level B1 or higher.",
        "Ali und Sabine haben keine gemeinsame Sprache auf Niveau B1 oder höher.",
    )
    meeting = SharedLanguage(LanguageSettings(languages=["de", "en"]))
    assert meeting.explain(nobody, thomas, "de") == (
        "Nobody und Thomas sprechen nicht beide Deutsch oder Englisch auf Niveau B1 oder höher."
    )
    assert meeting.explain(nobody, thomas, "en") == (
        "Nobody and Thomas do not both speak German or English at level B1 or higher."
    )


# --- location -----------------------------------------------------------------------------

PLACES = {"Nord": (48.2, 11.5), "Süd": (48.1, 11.5), "Fern": (49.0, 11.5)}


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat_a, lon_a, lat_b, lon_b = map(math.radians, (*a, *b))
    h = math.sin((lat_b - lat_a) / 2) ** 2
    h += math.cos(lat_a) * math.cos(lat_b) * math.sin((lon_b - lon_a) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def test_location_same_district_distance_and_unknown_places():
    crit = LocationCriterion(LocationSettings(districts=PLACES, max_km=15, unknown_score=0.5))
    mentees = [
        person("a", district="Nord"),
        person("b", district=" nord "),
        person("c", district="Unbekannt"),
        person("d"),
        person("e", location=(48.15, 11.5)),
    ]
    mentors = [
        person("n", district="NORD"),
        person("s", district="Süd"),
        person("f", district="Fern"),
        person("u", district="unbekannt"),
        person("x"),
    ]
    result = evaluate(crit, mentees, mentors)
    near = 1 - km(PLACES["Nord"], PLACES["Süd"]) / 15  # about 11.1 km
    half = 1 - km((48.15, 11.5), PLACES["Nord"]) / 15
    expected = np.array(
        [
            [1.0, near, 0.0, 0.5, 0.5],
            [1.0, near, 0.0, 0.5, 0.5],
            [0.5, 0.5, 0.5, 1.0, 0.5],  # the same unknown district is still the same
            [0.5] * 5,
            [half, half, 0.0, 0.5, 0.5],
        ],
        dtype=np.float32,
    )
    # Distances are measured on a plane true to scale in the city: against the great
    # circle that is off by well under 2 m over 15 km (1e-4 of the score).
    np.testing.assert_allclose(result, expected, atol=1e-4)
    assert result[0, 0] == 1.0 and result[0, 2] == 0.0 and result[3, 0] == 0.5


def test_location_defaults_to_munichs_districts():
    crit = LocationCriterion(LocationSettings())
    mentees = [person("a", district="Maxvorstadt"), person("b", district="Aubing")]
    mentors = [
        person("c", district="maxvorstadt"),
        person("d", district="Schwabing-West"),
        person("e", district="Trudering-Riem"),
        person("f", district="Berlin-Mitte"),
    ]
    result = evaluate(crit, mentees, mentors)
    assert result[0, 0] == 1.0 and 0.8 < result[0, 1] < 1.0 and 0 < result[0, 2] < 0.5
    assert result[1, 2] == 0.0  # across the city, more than 15 km
    assert result[0, 3] == result[1, 3] == 0.5


def test_location_explanations():
    crit = LocationCriterion(LocationSettings(districts=PLACES))
    assert both_locales(crit, person("a", district="nord"), person("b", district="NORD ")) == (
        "A and B live in the same district: Nord.",
        "A und B wohnen im selben Stadtteil: Nord.",
    )
    assert both_locales(crit, person("a", district="nord"), person("b", district="süd")) == (
        "A (Nord) and B (Süd) live about 11.1 km apart.",
        "A (Nord) und B (Süd) wohnen etwa 11,1 km voneinander entfernt.",
    )
    en, de = both_locales(crit, person("a", location=(48.15, 11.5)), person("b", district="Nord"))
    assert en == "A (48.15, 11.5) and B (Nord) live about 5.6 km apart."
    assert de == "A (48,15, 11,5) und B (Nord) wohnen etwa 5,6 km voneinander entfernt."
    assert both_locales(crit, person("a", district="Mars"), person("b", district="Nord")) == (
        "Where A or B lives is not known.",
        "Es ist nicht bekannt, wo A oder B wohnt.",
    )


# --- availability -------------------------------------------------------------------------


def test_availability_is_the_share_of_the_mentees_slots():
    crit = AvailabilityCriterion(AvailabilitySettings(unknown_score=0.25))
    mentees = [
        person("a", availability=(EVENING, WEEKEND_DAY)),
        person("b"),
        person("c", availability=(EVENING,)),
    ]
    mentors = [
        person("m", availability=(EVENING,)),
        person("n", availability=(EVENING, WEEKEND_DAY, DAY)),
        person("o"),
        person("p", availability=(WEEKEND_EVENING,)),
    ]
    equal(
        evaluate(crit, mentees, mentors),
        [[0.5, 1.0, 0.25, 0.0], [0.25] * 4, [1.0, 1.0, 0.25, 0.0]],
    )


def test_availability_explanations():
    crit = AvailabilityCriterion(AvailabilitySettings())
    a = person("a", availability=(WEEKEND_DAY, EVENING))
    en, de = both_locales(crit, a, person("b", availability=(EVENING, WEEKEND_DAY, DAY)))
    evening_en, weekend_en = (availability.label(s, "en") for s in (EVENING, WEEKEND_DAY))
    evening_de, weekend_de = (availability.label(s, "de") for s in (EVENING, WEEKEND_DAY))
    assert en == f"A and B are both free at these times: {evening_en}; {weekend_en}."
    assert de == f"A und B haben beide zu diesen Zeiten Zeit: {evening_de}; {weekend_de}."
    assert evening_de != evening_en
    assert both_locales(crit, a, person("b", availability=(DAY,))) == (
        "A and B have no time slot in common.",
        "A und B haben keine gemeinsame Zeit.",
    )
    assert both_locales(crit, a, person("b")) == (
        "A or B has not said when they are free.",
        "A oder B hat nicht angegeben, wann Zeit ist.",
    )


# --- gender -------------------------------------------------------------------------------

MENTEES_GENDER = [
    person("asks", gender="Frau", same_gender=True),
    person("free", gender="Mann"),
    person("no_gender", same_gender=True),
]
MENTORS_GENDER = [
    person("f1", gender="frau"),
    person("f2", gender=" FRAU "),
    person("m1", gender="Mann"),
    person("none"),
]


def test_gender_applies_only_to_mentees_who_asked():
    hard = GenderCriterion(GenderSettings())
    assert hard.kind is CriterionKind.FILTER
    expected = [[True, True, False, False], [True] * 4, [True] * 4]
    equal(evaluate(hard, MENTEES_GENDER, MENTORS_GENDER), expected)
    soft = GenderCriterion(GenderSettings(hard=False, weight=3))
    assert soft.kind is CriterionKind.SCORE and soft.weight == 3
    equal(evaluate(soft, MENTEES_GENDER, MENTORS_GENDER), expected)
    # Nobody asked: every pair passes (and gender is not looked at).
    equal(evaluate(hard, MENTEES_GENDER[1:], MENTORS_GENDER), [[True] * 4] * 2)


def test_gender_explanations_never_name_a_gender():
    crit = GenderCriterion(GenderSettings())
    asks, free, no_gender = MENTEES_GENDER
    f1, _, m1, none = MENTORS_GENDER
    cases = [
        (
            asks,
            f1,
            (
                "Asks asked for a mentor of the same gender, and F1 is.",
                "Asks wünscht sich eine Mentorin oder einen Mentor des gleichen Geschlechts, und "
                "das trifft auf F1 zu.",
            ),
        ),
        (
            asks,
            m1,
            (
                "Asks asked for a mentor of the same gender, and M1 is not.",
                "Asks wünscht sich eine Mentorin oder einen Mentor des gleichen Geschlechts, und "
                "das trifft auf M1 nicht zu.",
            ),
        ),
        (
            asks,
            none,
            (
                "Asks asked for a mentor of the same gender, and None has not given a gender.",
                "Asks wünscht sich eine Mentorin oder einen Mentor des gleichen Geschlechts, und "
                "None hat kein Geschlecht angegeben.",
            ),
        ),
        (
            free,
            m1,
            (
                "Free did not ask for a mentor of the same gender.",
                "Free hat sich keine Mentorin oder keinen Mentor des gleichen Geschlechts "
                "gewünscht.",
            ),
        ),
        (
            no_gender,
            f1,
            (
                "No_Gender asked for a mentor of the same gender but did not give a gender, so "
                "the wish cannot be taken into account.",
                "No_Gender wünscht sich eine Mentorin oder einen Mentor des gleichen Geschlechts, "
                "hat aber kein Geschlecht angegeben; der Wunsch kann daher nicht berücksichtigt "
                "werden.",
            ),
        ),
    ]
    for mentee, mentor, sentences in cases:
        assert both_locales(crit, mentee, mentor) == sentences
        assert not any(g in s.lower() for s in sentences for g in ("frau", "mann"))


# --- capacity -----------------------------------------------------------------------------


def test_capacity_prefers_mentors_with_more_places_free():
    crit = CapacityCriterion(CapacitySettings())
    mentors = [
        person("a", capacity=2, load=1),
        person("b", capacity=1, load=0),
        person("c", capacity=0, load=2),
        person("d", capacity=0, load=0),
        person("e", capacity=3, load=1),
    ]
    row = [np.float32(2) / np.float32(3), 1.0, 0.0, 0.0, 0.75]
    equal(evaluate(crit, [person("x"), person("y")], mentors), [row, row])
    assert crit.weight == 0.5


def test_capacity_explanations_count_places():
    crit = CapacityCriterion(CapacitySettings())
    assert both_locales(crit, person("x"), person("thomas", capacity=2, load=1)) == (
        "Thomas has 2 of 3 places free.",
        "Thomas hat 2 von 3 Plätzen frei.",
    )
    assert both_locales(crit, person("x"), person("sabine", capacity=1)) == (
        "Sabine has 1 of 1 place free.",
        "Sabine hat 1 von 1 Platz frei.",
    )


# --- conflict of interest -----------------------------------------------------------------

MENTEES_CONFLICT = [
    person("a", person="a@example.org", employer="Siemens AG"),
    person("b"),
    person("c", person="c@example.org", employer="BMW"),
]
MENTORS_CONFLICT = [
    person("a_again", person=" A@example.org", employer="Other"),
    person("colleague", employer="siemens  ag"),
    person("nobody"),
    person("d", person="d@example.org", employer="bmw"),
]


def test_conflict_excludes_the_same_person_and_the_same_employer():
    crit = ConflictCriterion(ConflictSettings())
    assert crit.kind is CriterionKind.FILTER
    equal(
        evaluate(crit, MENTEES_CONFLICT, MENTORS_CONFLICT),
        [[False, False, True, True], [True] * 4, [True, True, True, False]],
    )
    only_person = ConflictCriterion(ConflictSettings(same_employer=False))
    equal(
        evaluate(only_person, MENTEES_CONFLICT, MENTORS_CONFLICT),
        [[False, True, True, True], [True] * 4, [True] * 4],
    )


def test_conflict_explanations():
    crit = ConflictCriterion(ConflictSettings())
    a, b, _ = MENTEES_CONFLICT
    again, colleague, nobody, _ = MENTORS_CONFLICT
    assert both_locales(crit, a, again) == (
        "A and A_Again are the same person.",
        "A und A_Again sind dieselbe Person.",
    )
    assert both_locales(crit, a, colleague) == (
        "A and Colleague work for the same employer (siemens  ag).",
        "A und Colleague arbeiten beim selben Arbeitgeber (siemens  ag).",
    )
    assert both_locales(crit, b, nobody) == (
        "No conflict of interest between B and Nobody.",
        "Kein Interessenkonflikt zwischen B und Nobody.",
    )


# --- seniority ----------------------------------------------------------------------------

MENTEES_YEARS = [person("a", years=5), person("b", years=0), person("c", years=10)]
MENTORS_YEARS = [person(f"m{i}", years=y) for i, y in enumerate((8, 6.5, 5, 2, 20))]


def test_seniority_rises_linearly_to_the_margin():
    crit = SeniorityCriterion(SenioritySettings(margin=3))
    two_thirds = np.float32(2) / np.float32(3)
    equal(
        evaluate(crit, MENTEES_YEARS, MENTORS_YEARS),
        [[1.0, 0.5, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, two_thirds, 1.0], [0, 0, 0, 0, 1.0]],
    )


def test_seniority_hard_is_a_filter_at_least_as_many_years():
    crit = SeniorityCriterion(SenioritySettings(hard=True))
    assert crit.kind is CriterionKind.FILTER
    equal(
        evaluate(crit, MENTEES_YEARS, MENTORS_YEARS),
        [[True, True, True, False, True], [True] * 5, [False, False, False, False, True]],
    )


def test_seniority_explanations():
    crit = SeniorityCriterion(SenioritySettings())
    a, b, _ = MENTEES_YEARS
    assert both_locales(crit, a, person("thomas", years=8)) == (
        "Thomas has more experience than A: 8 years against 5.",
        "Thomas hat mehr Berufserfahrung als A: 8 Jahre gegenüber 5.",
    )
    assert both_locales(crit, b, person("new", years=1)) == (
        "New has more experience than B: 1 year against 0.",
        "New hat mehr Berufserfahrung als B: 1 Jahr gegenüber 0.",
    )
    assert both_locales(crit, a, person("m", years=2.5)) == (
        "M does not have more experience than A: 2.5 years against 5.",
        "M hat nicht mehr Berufserfahrung als A: 2,5 Jahre gegenüber 5.",
    )


# --- every criterion: shapes, blocks, a plain reference -----------------------------------

CODES = ("2142", "2146", "2151", "2211", "2221", "2512", "2519", "3113", "5120", "")
LANGS = ("de", "en", "uk", "ar", "fa")
LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
SLOTS = tuple(availability.SLOTS)
DISTRICTS = ("Nord", "Süd", "Fern", "Irgendwo", "")


def random_people(rng: np.random.Generator, count: int, kind: str) -> list[Person]:
    def pick(values: Sequence[Any]) -> Any:
        return values[int(rng.integers(len(values)))]

    people = []
    for i in range(count):
        spoken = rng.choice(LANGS, size=int(rng.integers(0, 4)), replace=False)
        people.append(
            Person(
                id=f"{kind}{i}",
                occupation=pick(CODES) or None,
                languages={str(code): pick(LEVELS) for code in spoken},
                district=pick(DISTRICTS),
                location=(48.1 + rng.random() / 5, 11.5) if rng.random() < 0.1 else None,
                availability=tuple(s for s in SLOTS if rng.random() < 0.4),
                gender=pick(("f", "m", "d", "")),
                same_gender=kind == "mentee" and rng.random() < 0.4,
                employer=pick(("Siemens", "BMW", "Stadt", "")),
                person=pick(("p1", "p2", "p3", "")) if rng.random() < 0.3 else "",
                years=float(rng.integers(0, 12)),
                capacity=int(rng.integers(0, 4)) if kind == "mentor" else 1,
                load=int(rng.integers(0, 3)) if kind == "mentor" else 0,
            )
        )
    return people


def all_criteria() -> list[Criterion]:
    language = LanguageSettings()
    return [
        occupation(),
        SharedLanguage(language),
        LanguageLevel(language),
        LanguageLevel(LanguageSettings(min_level="A1", languages=["de", "uk"])),
        LocationCriterion(LocationSettings(districts=PLACES)),
        AvailabilityCriterion(AvailabilitySettings()),
        GenderCriterion(GenderSettings()),
        GenderCriterion(GenderSettings(hard=False)),
        CapacityCriterion(CapacitySettings()),
        ConflictCriterion(ConflictSettings()),
        ConflictCriterion(ConflictSettings(same_employer=False)),
        SeniorityCriterion(SenioritySettings()),
        SeniorityCriterion(SenioritySettings(hard=True)),
    ]


CRITERIA = all_criteria()


def criterion_name(criterion: Criterion) -> str:
    return f"{criterion.id}-{criterion.kind.value}-{CRITERIA.index(criterion)}"


@pytest.fixture(scope="module")
def cohort() -> tuple[list[Person], list[Person]]:
    rng = np.random.default_rng(5)
    return random_people(rng, 61, "mentee"), random_people(rng, 37, "mentor")


@pytest.mark.parametrize("criterion", CRITERIA, ids=criterion_name)
def test_blocks_of_mentees_give_the_same_values_as_the_whole(
    criterion: Criterion, cohort: tuple[list[Person], list[Person]]
):
    a, b, vocabulary = encode(*cohort)

    def pairs(mentees: Side) -> np.ndarray:  # a value per pair, as the scorer sees it
        answer = criterion.evaluate(mentees, b, vocabulary)
        return np.asarray(as_matrix(answer, criterion, (len(mentees), 37)))

    whole = pairs(a)
    for size in (1, 7, 30):
        blocks = [pairs(a.rows(s, s + size)) for s in range(0, 61, size)]
        np.testing.assert_array_equal(np.concatenate(blocks), whole)
    # In any order, and as a copy rather than a view.
    order = np.random.default_rng(1).permutation(len(a))
    np.testing.assert_array_equal(pairs(a.take(order)), whole[order])


@pytest.mark.parametrize("criterion", CRITERIA, ids=criterion_name)
def test_shapes_and_dtypes_including_empty_sides(
    criterion: Criterion, cohort: tuple[list[Person], list[Person]]
):
    mentees, mentors = cohort
    for n, m in ((61, 37), (0, 37), (61, 0), (0, 0), (1, 1)):
        a, b, vocabulary = encode(mentees[:n], mentors[:m])
        result = criterion.evaluate(a, b, vocabulary)
        checked = np.asarray(as_matrix(result, criterion, (n, m)))
        assert checked.shape == (n, m)
        if isinstance(result, Factored):
            assert criterion.kind is CriterionKind.SCORE and result.shape == (n, m)
            result = checked
        # A value of the mentor alone may come as one row, broadcast by the scorer.
        rows = 1 if isinstance(criterion, CapacityCriterion) else n
        assert isinstance(result, np.ndarray) and result.shape == (rows, m)
        if criterion.kind is CriterionKind.FILTER:
            assert result.dtype == bool
        else:
            assert result.dtype == np.float32
            assert result.size == 0 or (result.min() >= 0 and result.max() <= 1)
        assert criterion.label and criterion.id.startswith("match_")


def reference(criterion: Criterion) -> Callable[[Person, Person], float]:
    """The criterion's value for one pair, written plainly (and slowly) in Python."""
    if isinstance(criterion, OccupationCriterion):
        return lambda a, b: float(criterion.by_depth[criterion.depth(a, b) or 0])
    if isinstance(criterion, SharedLanguage | LanguageLevel):
        levels = criterion.levels
        steps = len(levels.thresholds)

        def language(a: Person, b: Person) -> float:
            top = levels.best(a, b)[0]
            reached = top - levels.minimum + 1 if top >= levels.minimum else 0
            return float(reached > 0) if isinstance(criterion, SharedLanguage) else reached / steps

        return language
    if isinstance(criterion, LocationCriterion):

        def location(a: Person, b: Person) -> float:
            if fold(a.district) and fold(a.district) == fold(b.district):
                return 1.0
            pa, pb = criterion.coordinates(a), criterion.coordinates(b)
            if pa is None or pb is None:
                return criterion.unknown_score
            return max(0.0, 1 - km(pa, pb) / criterion.max_km)

        return location
    if isinstance(criterion, AvailabilityCriterion):

        def slots(a: Person, b: Person) -> float:
            if not a.availability or not b.availability:
                return float(criterion.unknown_score)
            return len(set(a.availability) & set(b.availability)) / len(set(a.availability))

        return slots
    if isinstance(criterion, GenderCriterion):
        return lambda a, b: float(
            not (a.same_gender and fold(a.gender)) or fold(a.gender) == fold(b.gender)
        )
    if isinstance(criterion, CapacityCriterion):
        return lambda a, b: b.capacity / (b.capacity + b.load) if b.capacity else 0.0
    if isinstance(criterion, ConflictCriterion):

        def conflict(a: Person, b: Person) -> float:
            same = bool(fold(a.person)) and fold(a.person) == fold(b.person)
            if criterion.same_employer:
                same |= bool(fold(a.employer)) and fold(a.employer) == fold(b.employer)
            return float(not same)

        return conflict
    if isinstance(criterion, SeniorityCriterion):
        if criterion.kind is CriterionKind.FILTER:
            return lambda a, b: float(b.years >= a.years)
        return lambda a, b: min(1.0, max(0.0, (b.years - a.years) / criterion.margin))
    raise AssertionError(criterion)


@pytest.mark.parametrize("criterion", CRITERIA, ids=criterion_name)
def test_arrays_agree_with_a_pair_by_pair_reference(
    criterion: Criterion, cohort: tuple[list[Person], list[Person]]
):
    mentees, mentors = cohort
    result = evaluate(criterion, mentees, mentors).astype(np.float64)
    value = reference(criterion)
    expected = np.array([[value(a, b) for b in mentors] for a in mentees])
    # Locations are float32 in the column: a few decimetres, 1e-5 of 15 km.
    np.testing.assert_allclose(result, expected, rtol=0, atol=5e-5)
    # Every pair has a sentence in both languages.
    for a, b in zip(mentees[:12], mentors[:12], strict=True):
        for locale in ("de", "en"):
            text = criterion.explain(a, b, locale)
            assert text and text[0].isupper() and text.endswith(".")


# --- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plugin_id", "raw", "field", "message"),
    [
        ("match_occupation", {"weight": 0}, "weight", "greater than 0"),
        ("match_occupation", {"weight": 101}, "weight", "less than or equal to 100"),
        ("match_occupation", {"same_minor_group": 1.5}, "same_minor_group", "less than"),
        (
            "match_occupation",
            {"same_major_group": 0.7},
            "same_major_group",
            "must not be more than same_sub_major_group (0.6)",
        ),
        ("match_language", {"min_level": "B7"}, "min_level", "not a CEFR level"),
        ("match_language", {"languages": ["de", "xx"]}, "languages", "'xx' is not a language"),
        ("match_language", {"minimum": "B1"}, "minimum", "Extra inputs are not permitted"),
        ("match_location", {"max_km": 0}, "max_km", "greater than 0"),
        ("match_location", {"unknown_score": 2}, "unknown_score", "less than or equal to 1"),
        ("match_location", {"districts": {"Nord": [91, 11]}}, "districts.Nord.0", "90"),
        ("match_location", {"districts": {"Nord": [48]}}, "districts.Nord.1", "Field required"),
        (
            "match_location",
            {"districts": {"Nord": [48, 11], " nord": [48, 11]}},
            "districts",
            "'Nord' and ' nord' are the same district",
        ),
        ("match_location", {"districts": {" ": [48, 11]}}, "districts", "name is empty"),
        ("match_availability", {"unknown_score": -0.1}, "unknown_score", "greater than"),
        ("match_gender", {"hard": "maybe"}, "hard", "valid boolean"),
        ("match_capacity", {"weight": -1}, "weight", "greater than 0"),
        ("match_conflict", {"weight": 2}, "weight", "Extra inputs are not permitted"),
        ("match_conflict", {"same_employer": "sometimes"}, "same_employer", "valid boolean"),
        ("match_seniority", {"margin": 0}, "margin", "greater than 0"),
    ],
)
def test_invalid_settings_name_the_field(
    plugins: PluginHost, plugin_id: str, raw: dict[str, Any], field: str, message: str
):
    with pytest.raises(PluginSettingsError) as caught:
        plugins.info(plugin_id).validate_settings(raw)
    assert any(f == field and message in m for f, m in caught.value.problems), caught.value.problems
    assert field in str(caught.value)


def test_settings_are_stored_normalised_and_read_back_the_same(plugins: PluginHost):
    info = plugins.info("match_language")
    stored = info.validate_settings({"min_level": "b2", "languages": ["DE", "de", " en"]})
    assert stored == {"weight": 1.0, "min_level": "B2", "languages": ["de", "en"], "required": True}
    assert info.validate_settings(stored) == stored
    for plugin_id in MATCH_PLUGINS:
        defaults = plugins.info(plugin_id).validate_settings({})
        assert plugins.info(plugin_id).validate_settings(defaults) == defaults


# --- the hook -----------------------------------------------------------------------------


def snapshot(slug: str, plugin_settings: dict[str, dict[str, Any]]) -> TenantSnapshot:
    return TenantSnapshot(
        id=uuid.uuid4(),
        slug=slug,
        name=slug.title(),
        status=TenantStatus.ACTIVE,
        default_locale="de",
        locales=("de", "en"),
        theme="default",
        revision=1,
        plugin_settings=MappingProxyType(plugin_settings),
    )


def criteria_of(plugins: PluginHost, tenant: TenantSnapshot) -> dict[str, Criterion]:
    groups = plugins.hooks_for(tenant).register_matching_criteria(tenant=tenant)
    found = [criterion for group in groups for criterion in group]
    assert len({c.id for c in found}) == len(found), "criterion ids must be unique"
    return {c.id: c for c in found}


def test_the_hook_builds_criteria_from_the_tenants_settings(plugins: PluginHost):
    everything = snapshot("alpha", {pid: {} for pid in MATCH_PLUGINS})
    found = criteria_of(plugins, everything)
    assert set(found) == {
        "match_occupation",
        "match_language.shared",
        "match_language.level",
        "match_location",
        "match_availability",
        "match_gender",
        "match_capacity",
        "match_conflict",
        "match_seniority",
    }
    filters = {cid for cid, c in found.items() if c.kind is CriterionKind.FILTER}
    assert filters == {"match_language.shared", "match_gender", "match_conflict"}
    assert all(c.weight > 0 for c in found.values())

    tuned = snapshot(
        "beta",
        {
            "match_occupation": {"weight": 7},
            "match_language": {"required": False, "weight": 2},
            "match_seniority": {"hard": True},
            "announcements": {"title": {"de": "Hallo"}, "message": {"de": "Hallo"}},
        },
    )
    found = criteria_of(plugins, tuned)
    assert set(found) == {"match_occupation", "match_language.level", "match_seniority"}
    assert found["match_occupation"].weight == 7
    assert found["match_language.level"].weight == 2
    assert found["match_seniority"].kind is CriterionKind.FILTER
    # A tenant without them gets none, whatever other tenants have enabled.
    assert criteria_of(plugins, snapshot("gamma", {})) == {}


@pytest.mark.parametrize("slug", ["muenchen", "augsburg", "toronto"])
def test_the_programmes_tenant_files_enable_valid_matching(plugins: PluginHost, slug: str):
    tables = tomllib.loads((ROOT / "tenants" / f"{slug}.toml").read_text(encoding="utf-8"))
    settings = {
        pid: plugins.info(pid).validate_settings(table)
        for pid, table in tables["plugins"].items()
        if pid.startswith("match_") and table.pop("enabled", True)
    }
    assert set(settings) == set(MATCH_PLUGINS)
    found = criteria_of(plugins, snapshot(slug, settings))
    occupation_weight = found["match_occupation"].weight
    # Each programme matches by occupation above everything else.
    assert all(c.weight <= occupation_weight for c in found.values())
    districts = LocationSettings.model_validate(settings["match_location"]).districts
    if slug == "toronto":
        assert LanguageSettings.model_validate(settings["match_language"]).languages == ["en"]
        assert "North York" in districts
    elif slug == "augsburg":
        assert "Lechhausen" in districts
    else:
        assert "Maxvorstadt" in districts and len(districts) > 25


def test_language_levels_match_the_column_encoding():
    # The criteria read CEFR levels as the features module numbers them.
    assert [level_number(level) for level in LEVELS] == [1, 2, 3, 4, 5, 6]


class Written(Criterion):
    """A criterion's answer written out as a plain matrix: what Factored must equal."""

    def __init__(self, inner: Criterion) -> None:
        self.inner, self.id, self.kind = inner, inner.id, inner.kind
        self.label, self.weight = inner.label, inner.weight

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        shape = (len(mentees), len(mentors))
        answer = as_matrix(self.inner.evaluate(mentees, mentors, vocabulary), self, shape)
        return np.array(answer)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return self.inner.explain(mentee, mentor, locale)


def test_factored_answers_score_pairs_exactly_as_written_out_matrices(
    cohort: tuple[list[Person], list[Person]],
):
    a, b, vocabulary = encode(*cohort)
    factored = [c for c in CRITERIA if c.kind is CriterionKind.SCORE]
    answers = [c.evaluate(a, b, vocabulary) for c in factored]
    assert any(isinstance(x, Factored) for x in answers)  # else this proves nothing
    plain = Problem(a, b, vocabulary, tuple(factored))
    written = Problem(a, b, vocabulary, tuple(Written(c) for c in factored))
    rows = np.arange(len(a))
    got, want = score_rows(plain, rows), score_rows(written, rows)
    np.testing.assert_array_equal(got.score, want.score)
    for cid in want.parts:
        np.testing.assert_array_equal(np.asarray(got.parts[cid]), want.parts[cid])
    # Pairs picked one by one (the proof's and the candidates' path) agree too.
    pick = np.random.default_rng(2)
    mentee, mentor = pick.integers(0, len(a), 50), pick.integers(0, len(b), 50)
    np.testing.assert_array_equal(
        score_pairs(plain, mentee, mentor).parts, score_pairs(written, mentee, mentor).parts
    )
