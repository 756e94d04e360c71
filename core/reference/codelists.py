"""One shape for the ISO code lists (languages, countries): codes, localised names, choices.

Names come from the CLDR data in Babel where it has them (``Locale.languages``,
``Locale.territories``), otherwise from pycountry's gettext translation of the ISO
standard, otherwise in English.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import pycountry
from babel import Locale, UnknownLocaleError


@dataclass(frozen=True)
class Choice:
    code: str
    name: str


class CodeList:
    """A fixed set of codes with English names and a way to name them in a locale."""

    def __init__(
        self,
        english: Mapping[str, str],
        *,
        pycountry_domain: str,
        babel_names: Callable[[Locale], Mapping[str, str]],
        canonical: Callable[[str], str],
        error: type[ValueError],
        what: str,
    ) -> None:
        self._english = dict(english)
        self.codes: frozenset[str] = frozenset(self._english)
        self._domain = pycountry_domain
        self._babel_names_of = babel_names
        self._canonical = canonical
        self._error = error
        self._what = what
        # Per instance (not functools.cache on methods, which would keep self alive).
        self._translations = cache(self._load_translation)
        self._babel = cache(self._load_babel_names)
        self.choices = cache(self._choices)

    def normalise(self, code: str) -> str:
        """The canonical spelling of ``code``; the list's error for anything unknown."""
        value = self._canonical(code.strip()) if isinstance(code, str) else ""
        if value not in self.codes:
            raise self._error(f"{code!r} is not {self._what}")
        return value

    def is_known(self, code: str) -> bool:
        try:
            self.normalise(code)
        except ValueError:
            return False
        return True

    def name(self, code: str, locale: str) -> str:
        english = self._english.get(code)
        if english is None:
            return code
        return self._babel(locale).get(code) or self._translations(locale).gettext(english)

    def _choices(self, locale: str) -> tuple[Choice, ...]:
        """Every entry, sorted by its name in ``locale``."""
        entries = (Choice(code, self.name(code, locale)) for code in self.codes)
        return tuple(sorted(entries, key=lambda entry: (entry.name.casefold(), entry.code)))

    def _load_translation(self, locale: str) -> gettext.NullTranslations:
        return gettext.translation(
            self._domain, pycountry.LOCALES_DIR, languages=[locale], fallback=True
        )

    def _load_babel_names(self, locale: str) -> dict[str, str]:
        try:
            return dict(self._babel_names_of(Locale.parse(locale)))
        except (UnknownLocaleError, ValueError):
            return {}
