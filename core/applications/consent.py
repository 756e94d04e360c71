"""The consent to data processing an application asks for, and its version.

The wording is part of the record: each application stores the ``CONSENT_VERSION``
its applicant agreed to. Change the text (in any language) → change the version, so
that what someone agreed to can always be told. A form that was shown with an older
version is refused and shown again with the current text.
"""

from __future__ import annotations

from core.i18n import N_
from core.i18n.catalogs import gettext

CONSENT_VERSION = "2026-11-a"


CONSENT_TITLE = N_("Consent to data processing")
CONSENT_TEXT = N_(
    "I agree that %(programme)s stores and uses the information in this application "
    "to assess it, to find a suitable tandem partner for me and to contact me about "
    "the programme. The programme's coordinators see all of it; a tandem partner "
    "proposed to me sees my name, occupation, field and languages. It is not passed "
    "on to anyone else. I can withdraw my application, and with it this consent, at "
    "any time."
)


def consent_text(locale: str, programme: str) -> str:
    return gettext(locale, CONSENT_TEXT, programme=programme)
