"""Countries (ISO 3166-1 alpha-2 codes, from ``pycountry``) with names in the page's language.

Used for where a qualification was gained. Stored values are upper-case codes (``"UA"``).
"""

from __future__ import annotations

import pycountry

from core.reference.codelists import Choice, CodeList


class UnknownCountryError(ValueError):
    pass


COUNTRIES = CodeList(
    {country.alpha_2: country.name for country in pycountry.countries},
    pycountry_domain="iso3166-1",
    babel_names=lambda locale: locale.territories,
    canonical=str.upper,
    error=UnknownCountryError,
    what="an ISO 3166-1 country code",
)
CODES = COUNTRIES.codes
Country = Choice
normalise = COUNTRIES.normalise
is_known = COUNTRIES.is_known
name = COUNTRIES.name  # name("UA", "de") == "Ukraine"
choices = COUNTRIES.choices  # every country, sorted by its name in the locale
