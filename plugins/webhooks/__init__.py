"""Webhooks: POST the tenant's events, signed, to an address of the tenant's choice.

Settings (per tenant)::

    [plugins.webhooks]
    url = "https://crm.example.org/hooks/tandem"
    secret_env = "TANDEM_WEBHOOK_MUENCHEN_SECRET"   # the NAME of the variable, not the secret
    events = ["pairing.*", "tenant.updated"]         # shell-style patterns; default ["*"]
    timeout_seconds = 10

Each event is one ``POST`` of a JSON body ``{id, tenant: {id, slug}, name, occurred_at,
payload}`` with the headers

* ``X-Tandem-Event``: the event name;
* ``X-Tandem-Delivery``: the event id, the same on every retry, so that receivers can
  de-duplicate;
* ``X-Tandem-Signature``: ``sha256=`` and the hex HMAC-SHA256 of the raw body, keyed
  with the secret read from the environment variable ``secret_env`` of the worker.

A network error or an answer other than 2xx raises, so the job is retried with backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from fnmatch import fnmatchcase
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from core.i18n import N_
from core.pluginhost import PluginInfo, hookimpl
from core.pluginhost.types import Event
from core.tenancy.snapshot import TenantSnapshot

SIGNATURE_HEADER = "X-Tandem-Signature"
EVENT_HEADER = "X-Tandem-Event"
DELIVERY_HEADER = "X-Tandem-Delivery"


BAD_PATTERN = N_("an event pattern may hold only letters, digits and the characters . _ - * ?")


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(
        title=N_("Receiving address"),
        description=N_("Where the events are sent with HTTP POST (http:// or https://)"),
    )
    secret_env: str = Field(
        # Upper-case like every environment variable name; a pasted secret rarely fits.
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        max_length=128,
        title=N_("Environment variable with the secret"),
        description=N_(
            "Name of the environment variable that holds the HMAC secret (never the secret itself)"
        ),
    )
    events: list[str] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        title=N_("Events"),
        description=N_("Event names or shell-style patterns to send, e.g. 'pairing.*'"),
    )
    timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        title=N_("Timeout (seconds)"),
        description=N_("How long to wait for the other system's answer to each request"),
    )

    @field_validator("events")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not pattern or not all(c.isalnum() or c in "._-*?" for c in pattern):
                # One fixed message, so that the admin page finds its translation.
                raise ValueError(BAD_PATTERN)
        return patterns


PLUGIN = PluginInfo(
    id="webhooks",
    name=N_("Webhooks"),
    description=N_("Sends the tenant's events as signed HTTP POST requests to another system."),
    version="1.0.0",
    settings=WebhookSettings,
)


class WebhookError(RuntimeError):
    """The event could not be delivered; the job retries it."""


def wants(patterns: list[str], event_name: str) -> bool:
    return any(fnmatchcase(event_name, pattern) for pattern in patterns)


def event_body(tenant: TenantSnapshot, event: Event) -> bytes:
    """The exact bytes that are sent and signed."""
    document: dict[str, Any] = {
        "id": str(event.id),
        "tenant": {"id": str(tenant.id), "slug": tenant.slug},
        "name": event.name,
        "occurred_at": event.occurred_at.isoformat(),
        "payload": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@hookimpl
def handle_event(tenant: TenantSnapshot, event: Event) -> None:
    settings = WebhookSettings.model_validate(tenant.plugin_settings[PLUGIN.id])
    if not wants(settings.events, event.name):
        return
    secret = os.environ.get(settings.secret_env)
    if not secret:
        # Raise rather than send unsigned: the job retries once an operator sets it.
        raise WebhookError(
            f"tenant {tenant.slug}: environment variable {settings.secret_env} "
            "(the webhook secret) is not set in the worker"
        )
    body = event_body(tenant, event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Tandem-Webhooks/{PLUGIN.version}",
        EVENT_HEADER: event.name,
        DELIVERY_HEADER: str(event.id),
        SIGNATURE_HEADER: signature(secret, body),
    }
    url = str(settings.url)
    try:
        # No redirects: a 3xx is an answer the receiver must fix, not one to follow
        # (following could send the signed body somewhere else).
        response = httpx.post(url, content=body, headers=headers, timeout=settings.timeout_seconds)
    except httpx.HTTPError as exc:
        raise WebhookError(f"tenant {tenant.slug}: POST {url} failed: {exc!r}") from exc
    if not response.is_success:
        raise WebhookError(
            f"tenant {tenant.slug}: POST {url} answered {response.status_code} "
            f"{response.reason_phrase}"
        )
