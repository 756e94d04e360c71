"""Fields that a tenant's plugins add to the application forms (``extra_application_fields``).

Each enabled plugin's implementation is called on its own, so that every field is
known with the id of the plugin that asked for it: answers are stored under that id
(``Application.extra["triec_fields"]["clb_level"]``) and two plugins may use the same
field name without clashing. A field a plugin declares wrongly (a bad name, an unknown
type) stops the page with the plugin's id in the log, as a broken plugin should.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.i18n import N_
from core.i18n.catalogs import gettext
from core.pluginhost.manager import PluginHost
from core.pluginhost.types import ApplicationField
from core.tenancy.snapshot import TenantSnapshot

REQUIRED = N_("Fill in this field.")
CONFIRM = N_("Please confirm this.")
NOT_TEXT = N_("Enter a text.")
TOO_LONG = N_("Use at most %(max_length)s characters.")
NOT_A_CHOICE = N_("Choose one of the options offered.")
NOT_A_NUMBER = N_("Enter a whole number.")
TOO_SMALL = N_("Enter a number of at least %(ge)s.")
TOO_LARGE = N_("Enter a number of at most %(le)s.")
NOT_YES_OR_NO = N_("Choose yes or no.")
NO_SUCH_FIELD = N_("This form has no such field.")
TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
FALSE_WORDS = frozenset({"", "off", "false", "0", "no"})


class PluginFieldError(RuntimeError):
    """A plugin returned something that is not a list of ApplicationField."""


@dataclass(frozen=True)
class PluginField:
    plugin_id: str
    field: ApplicationField

    @property
    def key(self) -> str:
        """The form control's name (and the error key): ``extra-<plugin>-<field>``."""
        return f"extra-{self.plugin_id}-{self.field.name}"

    @property
    def api_key(self) -> str:
        """Where the API reports an error for it: ``extra.<plugin>.<field>``."""
        return f"extra.{self.plugin_id}.{self.field.name}"


def collect(
    plugins: PluginHost, tenant: TenantSnapshot, kind: str, locale: str
) -> list[PluginField]:
    """The fields the tenant's enabled plugins add for ``kind``, plugin by plugin."""
    caller = plugins.hooks_for(tenant).extra_application_fields
    arguments = {"tenant": tenant, "kind": kind, "locale": locale}
    found: list[PluginField] = []
    # Registration order (pluggy calls the last registered first): stable per process.
    for impl in reversed(caller.get_hookimpls()):
        result = impl.function(*(arguments[name] for name in impl.argnames))
        if not isinstance(result, list | tuple) or not all(
            isinstance(item, ApplicationField) for item in result
        ):
            raise PluginFieldError(
                f"plugin {impl.plugin_name!r}: extra_application_fields must return a list "
                f"of ApplicationField, not {result!r}"
            )
        names = [item.name for item in result]
        if len(set(names)) != len(names):
            raise PluginFieldError(f"plugin {impl.plugin_name!r} returned a field name twice")
        found.extend(PluginField(impl.plugin_name, item) for item in result)
    return found


def clean_value(field: ApplicationField, raw: Any, locale: str) -> tuple[Any, str | None]:
    """The answer as stored (str, bool, int or None) and an error message, if any.

    ``raw`` is what a form sent (a string, or None for an unticked checkbox) or what a
    JSON client sent (a string, number, boolean or null).
    """
    if field.type == "bool":
        return _clean_bool(field, raw, locale)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, gettext(locale, REQUIRED) if field.required else None
    if field.type == "number":
        return _clean_number(field, raw, locale)
    if not isinstance(raw, str):
        return None, gettext(locale, NOT_TEXT)
    value = raw.strip()
    if field.type == "choice":
        if value not in {choice for choice, _ in field.choices}:
            return None, gettext(locale, NOT_A_CHOICE)
        return value, None
    if len(value) > field.max_length:
        return None, gettext(locale, TOO_LONG, max_length=field.max_length)
    return value, None


def _clean_bool(field: ApplicationField, raw: Any, locale: str) -> tuple[Any, str | None]:
    if isinstance(raw, bool):
        value = raw
    elif raw is None or (isinstance(raw, str) and raw.strip().lower() in FALSE_WORDS):
        value = False
    elif isinstance(raw, str) and raw.strip().lower() in TRUE_WORDS:
        value = True
    else:
        return None, gettext(locale, NOT_YES_OR_NO)
    if field.required and not value:
        return None, gettext(locale, CONFIRM)
    return value, None


def _clean_number(field: ApplicationField, raw: Any, locale: str) -> tuple[Any, str | None]:
    if isinstance(raw, bool):  # JSON true is not 1
        return None, gettext(locale, NOT_A_NUMBER)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and len(raw.strip()) < 10:
        value = int(raw.strip())
    else:
        return None, gettext(locale, NOT_A_NUMBER)
    if field.min is not None and value < field.min:
        return None, gettext(locale, TOO_SMALL, ge=field.min)
    if field.max is not None and value > field.max:
        return None, gettext(locale, TOO_LARGE, le=field.max)
    return value, None


def clean_extra(
    fields: list[PluginField], answers: Mapping[str, Any], locale: str
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Validate the answers to ``fields``, keyed by :attr:`PluginField.key`.

    Returns the values to store (``{plugin_id: {name: value}}``, unanswered optional
    fields left out) and the errors by key.
    """
    extra: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for item in fields:
        value, error = clean_value(item.field, answers.get(item.key), locale)
        if error:
            errors[item.key] = error
        elif value is not None:
            extra.setdefault(item.plugin_id, {})[item.field.name] = value
    return extra, errors
