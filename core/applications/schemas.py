"""What an application must contain, checked the same way for the form and the API.

Both edges turn their input into one plain dictionary (:func:`raw_from_form`,
:func:`raw_from_api`), and :func:`validate` checks it against the kind's rules and the
tenant's plugin fields. It returns either an :class:`ApplicationData` ready to store,
or errors keyed by field, already in the page's language:

* form keys are the controls' names (``occupation``, ``languages-1-level``,
  ``extra-triec_fields-clb_level``), so a page puts each message next to its field;
* :func:`api_errors` renames them for JSON clients (``languages.1.level``,
  ``extra.triec_fields.clb_level``).

Which fields each kind needs: both name, e-mail, occupation and consent; mentees also
their highest qualification and where it was gained, the recognition status and their
German level; mentors their employer, position and capacity (1-5 mentees).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from core.applications.consent import CONSENT_VERSION
from core.applications.fields import PluginField, clean_extra
from core.applications.models import (
    ApplicationKind,
    ApplicationStatus,
    Qualification,
    RecognitionStatus,
)
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.mail import MailError
from core.mail.compose import check_address
from core.reference import availability, cefr, countries, languages, occupations

MAX_LANGUAGES = 10
MAX_SEARCH_LENGTH = 100
MAX_CAPACITY = 5
MAX_YEARS = 60
LIMITS = {
    "name": 200,
    "email": 320,
    "field": 200,
    "district": 100,
    "recognition_authority": 200,
    "employer": 200,
    "position": 200,
    "gender": 50,
    "goals": 4000,
    "motivation": 4000,
}
TEXTS = tuple(LIMITS)

ENTER_NAME = N_("Enter your name.")
INVALID_EMAIL = N_("Enter an e-mail address like name@example.org.")
CHOOSE_OCCUPATION = N_("Choose your occupation from the list.")
YEARS = N_("Enter the years of experience as a whole number from 0 to 60.")
CHOOSE_QUALIFICATION = N_("Choose your highest qualification.")
CHOOSE_COUNTRY = N_("Choose the country from the list.")
CHOOSE_RECOGNITION = N_("Choose where the recognition of your qualification stands.")
CHOOSE_GERMAN = N_("Choose your German level, from A1 to C2.")
CHOOSE_LANGUAGE = N_("Choose a language from the list.")
CHOOSE_LEVEL = N_("Choose a level from A1 to C2.")
LANGUAGE_TWICE = N_("You have named this language twice.")
TOO_MANY_LANGUAGES = N_("Name at most %(count)s languages.")
CHOOSE_SLOTS = N_("Choose only from the times offered.")
ENTER_EMPLOYER = N_("Enter your employer.")
ENTER_POSITION = N_("Enter your position.")
CAPACITY = N_("Choose how many mentees you can take on, from 1 to 5.")
NEED_CONSENT = N_(
    "Please agree to the processing of your data. Without it we cannot take your application."
)
CONSENT_CHANGED = N_("The consent text has changed. Please read it again and agree.")
TOO_LONG = N_("Use at most %(max_length)s characters.")
NO_SUCH_FIELD = N_("This form has no such field.")
TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
# Records an error for a key (the first one for a key wins).
Fail = Callable[..., None]


@dataclass
class ApplicationData:
    """A checked application, in the shape of :class:`~core.applications.models.Application`."""

    kind: ApplicationKind
    name: str
    email: str
    occupation_code: str
    consent_version: str
    field: str = ""
    years_experience: int = 0
    languages: list[dict[str, str]] = dataclasses.field(default_factory=list)
    district: str = ""
    availability: list[str] = dataclasses.field(default_factory=list)
    gender: str | None = None
    german_level: str | None = None
    qualification: Qualification | None = None
    qualification_country: str | None = None
    recognition_status: RecognitionStatus | None = None
    recognition_authority: str = ""
    goals: str = ""
    preferences: dict[str, Any] = dataclasses.field(default_factory=dict)
    employer: str = ""
    position: str = ""
    capacity: int | None = None
    motivation: str = ""
    extra: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in TRUE_WORDS


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
        return int(value.strip())
    return None


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return value.strip() if isinstance(value, str) else ""


def german_required(min_german_level: str | None, tenant_locales: Collection[str]) -> bool:
    """Whether mentees must state their German level: where the programme sets a minimum,
    or the tenant works in German. Elsewhere (Toronto) it is an optional question."""
    return min_german_level is not None or "de" in tenant_locales


def validate(
    kind: ApplicationKind,
    raw: Mapping[str, Any],
    fields: list[PluginField],
    locale: str,
    *,
    german_level_required: bool = True,
) -> tuple[ApplicationData | None, dict[str, str]]:
    """Check ``raw`` (from :func:`raw_from_form` or :func:`raw_from_api`).

    Returns the data and no errors, or None and every error found (not just the first).
    """
    errors: dict[str, str] = {}

    def fail(key: str, message: str, **variables: object) -> None:
        errors.setdefault(key, gettext(locale, message, **variables))

    texts = {key: _text(raw, key) for key in TEXTS}
    for key, limit in LIMITS.items():
        if len(texts[key]) > limit:
            fail(key, TOO_LONG, max_length=limit)

    if not texts["name"]:
        fail("name", ENTER_NAME)
    email = texts["email"].lower()
    try:
        check_address(email)
    except MailError:
        fail("email", INVALID_EMAIL)

    occupation = _text(raw, "occupation")
    if not occupations.is_choosable(occupation):
        fail("occupation", CHOOSE_OCCUPATION)

    years: int | None = 0
    if raw.get("years_experience") not in (None, ""):
        years = _whole_number(raw.get("years_experience"))
        if years is None or not 0 <= years <= MAX_YEARS:
            fail("years_experience", YEARS)

    spoken = _check_languages(raw.get("languages"), fail)

    slots: list[str] = []
    chosen = raw.get("availability") or []
    if not isinstance(chosen, list) or not all(isinstance(s, str) for s in chosen):
        fail("availability", CHOOSE_SLOTS)
    else:
        try:
            slots = availability.normalise(chosen)
        except availability.UnknownSlotError:
            fail("availability", CHOOSE_SLOTS)

    if not _truthy(raw.get("consent")):
        fail("consent", NEED_CONSENT)
    elif raw.get("consent_version") != CONSENT_VERSION:
        fail("consent", CONSENT_CHANGED)

    data = ApplicationData(
        kind=kind,
        name=texts["name"],
        email=email,
        occupation_code=occupation,
        consent_version=CONSENT_VERSION,
        field=texts["field"],
        years_experience=years or 0,
        languages=spoken,
        district=texts["district"],
        availability=slots,
    )
    if kind is ApplicationKind.MENTEE:
        _check_mentee(raw, texts, data, fail, german_level_required)
    else:
        _check_mentor(raw, texts, data, fail)

    answers = {item.key: raw.get("extra", {}).get(item.key) for item in fields}
    data.extra, extra_errors = clean_extra(fields, answers, locale)
    for key in raw.get("unknown_extra", ()):
        fail(key, NO_SUCH_FIELD)
    errors.update({k: v for k, v in extra_errors.items() if k not in errors})
    return (None, dict(sorted(errors.items(), key=_form_position))) if errors else (data, {})


# The order of the form's fields, so that the error summary reads top to bottom.
FORM_ORDER = (
    "name", "email", "occupation", "field", "employer", "position", "years_experience",
    "qualification", "qualification_country", "recognition_status", "recognition_authority",
    "german_level", "languages", "district", "availability", "goals", "gender", "capacity",
    "motivation", "extra", "consent",
)  # fmt: skip


def _form_position(item: tuple[str, str]) -> tuple[int, str]:
    key = item[0]
    base = key.split("-")[0]
    return (FORM_ORDER.index(base) if base in FORM_ORDER else len(FORM_ORDER), key)


def _check_languages(value: Any, fail: Fail) -> list[dict[str, str]]:
    """Rows with neither a language nor a level are blank form rows, and ignored."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        fail("languages", CHOOSE_LANGUAGE)
        return []
    spoken: list[dict[str, str]] = []
    seen: set[str] = set()
    filled = 0
    for index, row in enumerate(value):
        code = row.get("code") if isinstance(row, Mapping) else None
        level = row.get("level") if isinstance(row, Mapping) else None
        code = code.strip() if isinstance(code, str) else ""
        level = level.strip() if isinstance(level, str) else ""
        if not code and not level:
            continue
        filled += 1
        good = True
        try:
            code = languages.normalise(code)
        except languages.UnknownLanguageError:
            fail(f"languages-{index}-code", CHOOSE_LANGUAGE)
            good = False
        try:
            level = cefr.normalise(level)
        except cefr.UnknownLevelError:
            fail(f"languages-{index}-level", CHOOSE_LEVEL)
            good = False
        if good and code in seen:
            fail(f"languages-{index}-code", LANGUAGE_TWICE)
        elif good:
            seen.add(code)
            spoken.append({"code": code, "level": level})
    if filled > MAX_LANGUAGES:
        fail("languages", TOO_MANY_LANGUAGES, count=MAX_LANGUAGES)
    return spoken


def _check_mentee(
    raw: Mapping[str, Any],
    texts: dict[str, str],
    data: ApplicationData,
    fail: Fail,
    german_level_required: bool,
) -> None:
    try:
        data.qualification = Qualification(_text(raw, "qualification"))
    except ValueError:
        fail("qualification", CHOOSE_QUALIFICATION)
    try:
        data.qualification_country = countries.normalise(_text(raw, "qualification_country"))
    except countries.UnknownCountryError:
        fail("qualification_country", CHOOSE_COUNTRY)
    try:
        data.recognition_status = RecognitionStatus(_text(raw, "recognition_status"))
    except ValueError:
        fail("recognition_status", CHOOSE_RECOGNITION)
    german = _text(raw, "german_level")
    if german or german_level_required:
        try:
            data.german_level = cefr.normalise(german)
        except cefr.UnknownLevelError:
            fail("german_level", CHOOSE_GERMAN)
    data.recognition_authority = texts["recognition_authority"]
    data.goals = texts["goals"]
    same_gender = _truthy(raw.get("same_gender_mentor"))
    data.preferences = {"same_gender_mentor": True} if same_gender else {}
    # The self-described gender is asked only with that preference, and kept only then.
    data.gender = (texts["gender"] or None) if same_gender else None


def _check_mentor(
    raw: Mapping[str, Any], texts: dict[str, str], data: ApplicationData, fail: Fail
) -> None:
    if not texts["employer"]:
        fail("employer", ENTER_EMPLOYER)
    if not texts["position"]:
        fail("position", ENTER_POSITION)
    capacity = _whole_number(raw.get("capacity"))
    if capacity is None or not 1 <= capacity <= MAX_CAPACITY:
        fail("capacity", CAPACITY)
    data.employer = texts["employer"]
    data.position = texts["position"]
    data.capacity = capacity
    data.motivation = texts["motivation"]
    data.gender = texts["gender"] or None


# --- the two edges ---------------------------------------------------------------------


def raw_from_form(form: Any, fields: list[PluginField]) -> dict[str, Any]:
    """The submitted form as :func:`validate` reads it; also what the page shows again."""

    def text(key: str) -> str:
        value = form.get(key)
        # Cut far beyond every limit: the check then reports "too long".
        return value[:5000] if isinstance(value, str) else ""

    raw: dict[str, Any] = {
        key: text(key)
        for key in (
            *TEXTS,
            "occupation",
            "years_experience",
            "qualification",
            "qualification_country",
            "recognition_status",
            "german_level",
            "capacity",
            "consent_version",
        )
    }
    raw["consent"] = text("consent")
    raw["same_gender_mentor"] = text("same_gender_mentor")
    raw["availability"] = [v for v in form.getall("availability", []) if isinstance(v, str)]
    rows = []
    for index in range(MAX_LANGUAGES + 1):
        code, level = text(f"languages-{index}-code"), text(f"languages-{index}-level")
        if f"languages-{index}-code" in form or f"languages-{index}-level" in form:
            rows.append({"code": code, "level": level})
    raw["languages"] = rows
    raw["extra"] = {
        item.key: (form.get(item.key) if item.field.type == "bool" else text(item.key))
        for item in fields
    }
    return raw


def raw_from_api(body: Mapping[str, Any], fields: list[PluginField]) -> dict[str, Any]:
    """A decoded JSON body as :func:`validate` reads it.

    ``extra`` comes as ``{"<plugin-id>": {"<field>": value}}``; answers to fields the
    tenant's form does not have are refused, not silently dropped.
    """
    raw = {key: value for key, value in body.items() if key != "extra"}
    by_path = {(item.plugin_id, item.field.name): item for item in fields}
    raw["extra"], raw["unknown_extra"] = {}, []
    extra = body.get("extra") or {}
    for plugin_id, answers in extra.items() if isinstance(extra, Mapping) else ():
        for name, value in answers.items() if isinstance(answers, Mapping) else ():
            item = by_path.get((plugin_id, name))
            if item is None:
                raw["unknown_extra"].append(f"extra-{plugin_id}-{name}")
            else:
                raw["extra"][item.key] = value
    return raw


def api_errors(errors: Mapping[str, str], fields: list[PluginField]) -> dict[str, str]:
    """Form error keys → API field paths (``languages.0.code``, ``extra.<plugin>.<field>``)."""
    plugin_keys = {item.key: item.api_key for item in fields}
    renamed = {}
    for key, message in errors.items():
        if key in plugin_keys:
            renamed[plugin_keys[key]] = message
        elif key.startswith("languages-"):
            renamed[key.replace("-", ".")] = message
        elif key.startswith("extra-"):  # an answer to a field that does not exist
            renamed["extra." + key.removeprefix("extra-").replace("-", ".", 1)] = message
        else:
            renamed[key] = message
    return renamed


# --- the coordinators' filters ----------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    kind: ApplicationKind | None = None
    status: ApplicationStatus | None = None
    occupation: str | None = None  # an ISCO group code: matches it and every group inside
    german_level: str | None = None
    recognition: RecognitionStatus | None = None
    text: str = ""  # part of the name or e-mail address


FILTER_VALUES: dict[str, frozenset[str]] = {
    "kind": frozenset(k.value for k in ApplicationKind),
    "status": frozenset(s.value for s in ApplicationStatus),
    "occupation": frozenset(occupations.OCCUPATIONS),
    "german_level": frozenset(cefr.LEVELS),
    "recognition": frozenset(r.value for r in RecognitionStatus),
}


def parse_filters(
    params: Mapping[str, str | None],
) -> tuple[Filters, dict[str, str], list[str]]:
    """Filters from query parameters: the filters, the values as chosen (for the page's
    form and links), and the names of parameters with a value that is not allowed."""
    chosen: dict[str, str] = {}
    invalid: list[str] = []
    for name, allowed in FILTER_VALUES.items():
        value = params.get(name) or ""
        if value and value not in allowed:
            invalid.append(name)
            value = ""
        chosen[name] = value
    chosen["q"] = (params.get("q") or "").strip()[:MAX_SEARCH_LENGTH]
    filters = Filters(
        kind=ApplicationKind(chosen["kind"]) if chosen["kind"] else None,
        status=ApplicationStatus(chosen["status"]) if chosen["status"] else None,
        occupation=chosen["occupation"] or None,
        german_level=chosen["german_level"] or None,
        recognition=RecognitionStatus(chosen["recognition"]) if chosen["recognition"] else None,
        text=chosen["q"],
    )
    return filters, chosen, invalid
