"""Values passed to and returned from hooks."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class HomeSection:
    """A block on a tenant's home page, rendered from a plugin template."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


@dataclass(frozen=True)
class InvitationOffer:
    """The pending invitation a visitor opened, as the sign-in methods on its page see it.

    ``email`` is the address the invitation was sent to: whoever opened the link has
    shown they can read that mailbox (or was handed the link by someone who can).
    """

    email: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class LoginMethod:
    """A way to sign in on a tenant's ``/login`` page, rendered from a plugin template.

    The template is included with the page's context plus ``method``, so it reads
    ``method.context``; it brings its own form (with ``csrf_input``) if it needs one.
    """

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


FIELD_TYPES = ("text", "choice", "bool", "number")


@dataclass(frozen=True)
class ApplicationField:
    """A field a plugin adds to a cohort's application form (``extra_application_fields``).

    ``name`` is unique within the plugin (lower-case letters, digits, ``_``); the answer
    is stored in ``Application.extra[<plugin-id>][name]``. ``label`` and ``help`` are
    shown as they are: translate them for the ``locale`` the hook was given. ``type``:
    ``"text"`` (a string), ``"choice"`` (one of ``choices``, pairs of stored value and
    label), ``"bool"`` (a checkbox; true or false) or ``"number"`` (a whole number
    between ``min`` and ``max`` when they are set).
    """

    name: str
    label: str
    type: str = "text"
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""
    min: int | None = None
    max: int | None = None
    max_length: int = 500

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", self.name):
            raise ValueError(f"field names are like 'clb_level', not {self.name!r}")
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field type must be one of {FIELD_TYPES}, not {self.type!r}")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"the choice field {self.name!r} needs choices")


@dataclass(frozen=True)
class Event:
    """Something that happened in a tenant, delivered to its plugins by a job.

    ``id`` is stable across redeliveries, so a plugin can use it to act only once.
    """

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    payload: dict[str, Any]
    occurred_at: datetime


PAPER_SIZES = ("A4", "A4 landscape", "letter", "letter landscape")
CERTIFICATE_ROLES = ("mentee", "mentor", "company")


@dataclass(frozen=True)
class CertificateTemplate:
    """A certificate design a plugin offers (``register_certificate_templates``).

    ``id`` is unique on the platform (``<plugin-id>`` or ``<plugin-id>.<name>``);
    ``name`` is a msgid (mark it with ``N_``), shown translated to coordinators.
    ``roles`` says whom it is for: ``"mentee"``, ``"mentor"``, ``"company"`` (the
    mentor's employer). ``sources`` maps a language (``"de"``, ``"en"``, …) to the
    Jinja2 HTML of the certificate's body in that language: the wording a tenant may
    edit, rendered in Jinja2's sandbox with the placeholders of
    :data:`core.certificates.render.PLACEHOLDERS` and nothing else. ``css`` styles it
    (WeasyPrint, CSS paged media; the theme's colours are the custom properties
    ``--primary`` and ``--accent``); ``paper`` is one of :data:`PAPER_SIZES`.
    """

    id: str
    name: str
    roles: tuple[str, ...]
    sources: dict[str, str]
    css: str = ""
    paper: str = "A4"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,49}(\.[a-z][a-z0-9_]{0,49})?", self.id):
            raise ValueError(
                f"certificate template ids are like 'certificate_muenchen', not {self.id!r}"
            )
        unknown = set(self.roles) - set(CERTIFICATE_ROLES)
        if not self.roles or unknown:
            raise ValueError(f"roles must be some of {CERTIFICATE_ROLES}, not {self.roles!r}")
        if not self.sources:
            raise ValueError(f"the certificate template {self.id!r} has no wording")
        if self.paper not in PAPER_SIZES:
            raise ValueError(f"paper must be one of {PAPER_SIZES}, not {self.paper!r}")
