"""Which texts participants read, and so which messages Arabic, Ukrainian and Turkish need.

German and English are complete everywhere. The participant languages (``ar``, ``uk``,
``tr``) cover what applicants, mentees and mentors see: the public pages, applying,
signing in, their tandem, meetings, check-ins, self-matching, their sessions and
certificates, the error page and the layouts around all of these, and the mails they
receive. Coordinator and operator pages stay in German or English (a message without a
translation falls back to its English msgid).

This module is the one list; tests/test_i18n_participant_languages.py checks that every
message extracted from these files is translated in each participant language. A new
participant-facing template or module belongs here.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from core.settings import ROOT

# Languages offered for the participant pages in addition to German and English.
# Where `make translations` extracts from.
SOURCE_DIRS: tuple[str, ...] = ("core", "plugins", "themes")

PARTICIPANT_LOCALES: tuple[str, ...] = ("ar", "uk", "tr")

# Templates, as glob patterns relative to the repository root (fnmatch: "*" crosses "/").
PARTICIPANT_TEMPLATES: tuple[str, ...] = (
    # Layouts, the home page and the error page, in every theme.
    "core/templates/base.html",
    "core/templates/home.html",
    "core/templates/error.html",
    "themes/*/templates/*.html",
    # Form helpers the participant forms import (error summary, inline errors).
    "core/templates/admin/_forms.html",
    # Public programme pages and applying.
    "core/templates/programmes/index.html",
    "core/templates/programmes/detail.html",
    "core/templates/programmes/_offer.html",
    "core/templates/applications/form.html",
    "core/templates/applications/_fields.html",
    "core/templates/applications/thanks.html",
    "core/templates/applications/mine.html",
    "core/templates/applications/closed.html",
    # Signing in and accepting an invitation.
    "core/templates/login/index.html",
    "core/templates/login/_providers.html",
    "core/templates/login/error.html",
    "core/templates/login/not_member.html",
    "core/templates/invitations/accept.html",
    "core/templates/invitations/gone.html",
    "core/templates/invitations/_roles.html",
    "plugins/email_login/templates/email_login/*.html",
    "plugins/announcements/templates/announcements/*.html",
    # The participant's tandem, meetings, check-ins and self-matching.
    "core/templates/pairings/_home.html",
    "core/templates/pairings/_tandem.html",
    "core/templates/pairings/mine.html",
    "core/templates/pairings/tandem.html",
    "core/templates/pairings/meeting_edit.html",
    "core/templates/checkins/_labels.html",
    "core/templates/checkins/_upcoming.html",
    "core/templates/checkins/form.html",
    "core/templates/checkins/mine.html",
    "core/templates/matching/self_suggestions.html",
    "core/templates/account/*.html",
    # Certificates: the holder's list and the public verification page; the
    # coordinators' pages (admin_*) are not for participants.
    "core/templates/certificates/*.html",
    # Mails to applicants and participants (coordinators' alerts are not).
    "core/templates/mail/layout.html",
    "core/templates/mail/application_*",
    "core/templates/mail/invitation.*",
    "core/templates/mail/checkin_reminder.*",
    "core/templates/mail/pairing_update.*",
    "core/templates/mail/certificate_ready.*",
    "plugins/email_login/templates/mail/email_login/*",
)
EXCLUDED_TEMPLATES: tuple[str, ...] = ("core/templates/certificates/admin_*",)

# Python modules whose messages appear on those pages: form labels and validation
# errors, state and role names, explanations of suggestions, error titles.
PARTICIPANT_MODULES: tuple[str, ...] = (
    "core/web/errors.py",
    "core/identity/guards.py",
    "core/web/controllers/login.py",
    "core/web/controllers/invitations.py",
    "plugins/email_login/routes.py",
    "core/programmes/controllers.py",
    # Shared form rules (dates, whole numbers, lengths) that the meeting form reports too.
    "core/programmes/schemas.py",
    "core/reference/availability.py",
    "core/applications/api.py",
    "core/applications/consent.py",
    "core/applications/controllers.py",
    "core/applications/fields.py",
    "core/applications/labels.py",
    "core/applications/schemas.py",
    "core/applications/services.py",
    "plugins/triec_fields/__init__.py",
    "core/pairings/home_view.py",
    "core/pairings/messages.py",
    "core/pairings/schemas.py",
    "core/pairings/checkin_controllers.py",
    "core/pairings/checkin_schemas.py",
    "core/matching/explain.py",
    "core/matching/self_match_api.py",
    "core/matching/self_match_controllers.py",
    # The reasons a mentee reads under each suggested mentor.
    "plugins/match_*/criterion.py",
    "core/certificates/controllers.py",
)


def _matches(relative: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(relative, pattern) for pattern in patterns)


def is_participant_facing(path: Path | str) -> bool:
    """Whether a template or module (absolute, or relative to the repository root)
    holds text that participants read."""
    relative = Path(path)
    if relative.is_absolute():
        relative = relative.relative_to(ROOT)
    name = relative.as_posix()
    if _matches(name, EXCLUDED_TEMPLATES):
        return False
    return _matches(name, PARTICIPANT_TEMPLATES) or _matches(name, PARTICIPANT_MODULES)


def participant_messages() -> dict[str, set[str]]:
    """The msgids (with ``context\\x04`` before a msgctxt) that participant-facing files
    use, each with the files it comes from — what `make translations` extracts from them."""
    with (ROOT / "core" / "locale" / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, set[str]] = {}
    for directory in SOURCE_DIRS:
        for filename, _line, message, _comments, context in extract_from_dir(
            ROOT / directory, method_map, options_map
        ):
            relative = f"{directory}/{filename}"
            if not is_participant_facing(relative):
                continue
            msgid = message[0] if isinstance(message, list | tuple) else message
            key = msgid if context is None else f"{context}\x04{msgid}"
            found.setdefault(key, set()).add(relative)
    return found


def read_catalogue(locale: str) -> Catalog:
    with (ROOT / "core" / "locale" / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=locale)


def untranslated(catalog: Catalog, wanted: Iterable[str]) -> list[str]:
    """Those of ``wanted`` (msgids as :func:`participant_messages` gives them) that the
    catalogue lacks, leaves empty (in any plural form) or marks fuzzy."""
    missing = []
    for key in sorted(wanted):
        context, _, msgid = key.rpartition("\x04")
        message = catalog.get(msgid, context or None)
        strings = message.string if message is not None else None
        strings = strings if isinstance(strings, tuple) else (strings,)
        if message is None or message.fuzzy or not all(s and s.strip() for s in strings):
            missing.append(key)
    return missing


if __name__ == "__main__":  # `python -m core.i18n.participant_pages`: what is left to do
    messages = participant_messages()
    for language in PARTICIPANT_LOCALES:
        for key in untranslated(read_catalogue(language), messages):
            print(f"{language}\t{key!r}\t{', '.join(sorted(messages[key]))}")
