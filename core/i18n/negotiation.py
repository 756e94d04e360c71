"""Choose a request's locale: the user's choice, then Accept-Language, then the default."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError

LOCALE_COOKIE = "tandem_locale"


def choose_locale(
    offered: tuple[str, ...] | list[str],
    chosen: str | None,
    accept_language: str | None,
    default: str,
) -> str:
    if chosen in offered:
        return chosen
    for candidate in _parse_accept_language(accept_language or ""):
        match = Locale.negotiate([candidate], list(offered), sep="-") or Locale.negotiate(
            [candidate.split("-")[0]], list(offered), sep="-"
        )
        if match:
            return str(match)
    return default if default in offered else offered[0]


def saved_choice(offered: tuple[str, ...] | list[str], saved: str | None) -> str | None:
    """The offered locale that a signed-in user's saved ``User.locale`` names, if any.

    The saved value may come from a sign-in service as a regional tag ("de-DE"); it
    counts for its language. None when the site does not offer it, so that the
    request's own negotiation stands.
    """
    if not saved:
        return None
    if saved in offered:
        return saved
    language = saved.replace("_", "-").split("-")[0].lower()
    return language if language in offered else None


def _parse_accept_language(header: str) -> list[str]:
    """Language tags in preference order; malformed parts are ignored, never an error."""
    weighted = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if quality > 0:
            weighted.append((-quality, position, tag.replace("_", "-")))
    return [tag for _, _, tag in sorted(weighted)]


def text_direction(locale: str) -> str:
    try:
        return Locale.parse(locale).text_direction  # "ltr" or "rtl"
    except (UnknownLocaleError, ValueError):
        return "ltr"


def language_name(locale: str) -> str:
    """The language's own name for itself ("Deutsch", "English")."""
    try:
        parsed = Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return locale
    return (parsed.get_display_name(parsed) or locale).capitalize()


def language_name_in(code: str, locale: str) -> str:
    """A language's name in the page's language ("Englisch" on a German page), for text
    such as "Titel auf Englisch"; :func:`language_name` is the name for a language picker."""
    try:
        parsed = Locale.parse(code.replace("-", "_"))
        page = Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return code
    return parsed.get_display_name(page) or code
