"""Reference data: occupations (ISCO-08), languages (ISO 639), countries (ISO 3166), time slots."""

from __future__ import annotations

import pytest

from core.reference import availability, cefr, countries, languages, occupations
from core.reference.occupations import Relation

# --- occupations --------------------------------------------------------------------------------


def test_every_isco_major_and_sub_major_group_is_there_with_both_titles() -> None:
    assert [o.code for o in occupations.MAJOR_GROUPS] == [str(d) for d in range(10)]
    sub_majors = [o.code for o in occupations.SUB_MAJOR_GROUPS]
    assert len(sub_majors) == 43  # ISCO-08 has 43 sub-major groups
    assert len(set(sub_majors)) == 43
    # Each sub-major group sits in its major group: 01-03, 11-14, 21-26, … 91-96.
    per_major = {m: sum(1 for c in sub_majors if c[0] == m) for m in "0123456789"}
    assert per_major == {
        "0": 3,
        "1": 4,
        "2": 6,
        "3": 5,
        "4": 4,
        "5": 4,
        "6": 3,
        "7": 5,
        "8": 3,
        "9": 6,
    }
    for occupation in occupations.OCCUPATIONS.values():
        assert occupation.en and occupation.de and occupation.en != occupation.de
        assert occupation.code.isdigit() and 1 <= len(occupation.code) <= 3
        if occupation.level > 1:
            assert occupation.code[:-1] in occupations.OCCUPATIONS, occupation.code


def test_titles_follow_the_language() -> None:
    assert occupations.title("214", "de") == "Ingenieurwesen (ohne Elektrotechnik)"
    assert occupations.title("214", "en") == (
        "Engineering professionals (excluding electrotechnology)"
    )
    assert occupations.title("22", "fr") == "Health professionals"  # English otherwise
    assert occupations.title("9999", "de") == "9999"


def test_applicants_choose_sub_major_groups_or_finer() -> None:
    assert occupations.is_choosable("25") and occupations.is_choosable("251")
    assert not occupations.is_choosable("2")  # a major group is too coarse
    assert not occupations.is_choosable("2512")
    assert not occupations.is_choosable("")


def test_related_compares_groups_for_the_matching() -> None:
    assert occupations.related("251", "251") is Relation.SAME
    assert occupations.related("251", "252") is Relation.SAME_SUB_MAJOR_GROUP
    assert occupations.related("25", "252") is Relation.SAME_SUB_MAJOR_GROUP
    assert occupations.related("214", "222") is Relation.SAME_MAJOR_GROUP
    assert occupations.related("214", "72") is Relation.UNRELATED
    assert occupations.same_sub_major_group("221", "226")
    assert not occupations.same_sub_major_group("221", "231")
    assert occupations.same_major_group("31", "35")
    assert Relation.SAME > Relation.SAME_SUB_MAJOR_GROUP > Relation.SAME_MAJOR_GROUP
    with pytest.raises(occupations.UnknownOccupationError):
        occupations.related("214", "99")


def test_choices_group_by_major_group_in_the_page_language() -> None:
    groups = occupations.choices("de")
    assert [g.code for g in groups] == [str(d) for d in range(10)]
    professionals = groups[2]
    assert professionals.label == "2 Akademische Berufe"
    codes = [c.code for c in professionals.choices]
    assert codes[:3] == ["21", "211", "212"] and "25" in codes and "251" in codes
    depth = {c.code: c.depth for c in professionals.choices}
    assert depth["21"] == 0 and depth["214"] == 1
    every = {c.code for g in groups for c in g.choices}
    assert every == {code for code in occupations.OCCUPATIONS if len(code) >= 2}


# --- languages ----------------------------------------------------------------------------------


def test_languages_are_iso_639_with_localised_names() -> None:
    assert {"uk", "ar", "fa", "tr", "en", "de"} <= languages.CODES
    assert {"prs", "ckb", "kmr"} <= languages.CODES  # Dari, Sorani, Kurmanji
    assert languages.name("uk", "de") == "Ukrainisch"
    assert languages.name("uk", "en") == "Ukrainian"
    assert languages.name("prs", "de") == "Dari"
    assert languages.name("kmr", "en") == "Northern Kurdish"
    assert languages.normalise(" UK ") == "uk"
    for bad in ("xx", "", "english", "ukr"):
        with pytest.raises(languages.UnknownLanguageError):
            languages.normalise(bad)
    assert not languages.is_known("zz") and languages.is_known("ar")


def test_language_choices_are_sorted_by_their_name_in_the_page_language() -> None:
    german = languages.choices("de")
    names = [choice.name.casefold() for choice in german]
    assert names == sorted(names)
    assert {c.code for c in german} == languages.CODES
    assert dict((c.code, c.name) for c in german)["de"] == "Deutsch"
    assert dict((c.code, c.name) for c in languages.choices("en"))["de"] == "German"


# --- countries ----------------------------------------------------------------------------------


def test_countries_are_iso_3166_with_localised_names() -> None:
    assert len(countries.CODES) == 249
    assert countries.name("UA", "de") == "Ukraine"
    assert countries.name("SY", "de") == "Syrien"
    assert countries.name("DE", "en") == "Germany"
    assert countries.normalise("ua") == "UA"
    for bad in ("XX", "", "UKR", "Germany"):
        with pytest.raises(countries.UnknownCountryError):
            countries.normalise(bad)
    by_code = {c.code: c.name for c in countries.choices("de")}
    assert by_code["IN"] == "Indien" and len(by_code) == 249


# --- CEFR and availability ----------------------------------------------------------------------


def test_cefr_levels_compare() -> None:
    assert cefr.at_least("B2", "B1") and not cefr.at_least("A2", "B1")
    assert cefr.at_least(None, None) and not cefr.at_least(None, "A1")
    with pytest.raises(cefr.UnknownLevelError):
        cefr.normalise("B3")


def test_availability_slots_are_fixed_and_translated() -> None:
    assert list(availability.SLOTS) == [
        "weekday_daytime",
        "weekday_evening",
        "weekend_daytime",
        "weekend_evening",
    ]
    assert availability.label("weekday_evening", "de") == "Werktags, abends"
    assert availability.label("weekday_evening", "en") == "Weekdays, in the evening"
    assert availability.normalise(["weekend_daytime", "weekday_daytime", "weekday_daytime"]) == [
        "weekday_daytime",
        "weekend_daytime",
    ]
    with pytest.raises(availability.UnknownSlotError):
        availability.normalise(["sunday_brunch"])
    assert availability.overlap(["weekday_evening", "weekend_daytime"], ["weekend_daytime"]) == [
        "weekend_daytime"
    ]
