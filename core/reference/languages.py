"""Languages people speak, as ISO 639 codes, with names in the page's language.

The list is ISO 639-1 (the 184 two-letter codes, from ``pycountry``) plus a few ISO
639-3 languages without a two-letter code that many newcomers speak — Dari, Sorani and
Kurmanji Kurdish, Cantonese — because "Persian" or "Kurdish" alone would not tell a
coordinator whether two people share a language. Stored values are these codes
(``"uk"``, ``"prs"``), lower-case.
"""

from __future__ import annotations

import pycountry

from core.reference.codelists import Choice, CodeList

# ISO 639-3 individual languages without a two-letter code, named separately.
EXTRA_CODES: tuple[str, ...] = ("prs", "ckb", "kmr", "yue")


class UnknownLanguageError(ValueError):
    pass


def _english_names() -> dict[str, str]:
    names = {lang.alpha_2: lang.name for lang in pycountry.languages if hasattr(lang, "alpha_2")}
    for code in EXTRA_CODES:
        names[code] = pycountry.languages.get(alpha_3=code).name
    return names


LANGUAGES = CodeList(
    _english_names(),
    pycountry_domain="iso639-3",
    babel_names=lambda locale: locale.languages,
    canonical=str.lower,
    error=UnknownLanguageError,
    what="a language code we know (ISO 639)",
)
CODES = LANGUAGES.codes
Language = Choice
normalise = LANGUAGES.normalise
is_known = LANGUAGES.is_known
name = LANGUAGES.name  # name("uk", "de") == "Ukrainisch"
choices = LANGUAGES.choices  # every language, sorted by its name in the locale
