"""Load the Babel message catalogues from ``core/locale/<lang>/LC_MESSAGES/messages.po``.

The ``.po`` files are the source of truth and are compiled in memory on first use,
so a fresh clone needs no build step; ``make translations`` extracts new strings
and checks that the catalogues compile.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
SOURCE_LOCALE = "en"


def available_locales() -> list[str]:
    return sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


@cache
def translations(locale: str) -> NullTranslations:
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def gettext(locale: str, message: str, **variables: object) -> str:
    text = translations(locale).gettext(message)
    return text % variables if variables else text
