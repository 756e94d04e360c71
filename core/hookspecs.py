"""Every hook a Tandem plugin can implement. Signatures only.

Hook names come in verb families: ``register_*`` adds something to a registry,
``extra_*`` contributes to something core renders, ``handle_*`` reacts to an
event. Called for a tenant, a hook reaches only the plugins that tenant has
enabled. Each hook is documented with an example in ``docs/plugins.md``;
``tests/test_hooks_meta.py`` fails for a hook without documentation or a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from litestar.types import ControllerRouterHandler

from core.matching.criteria import Criterion
from core.pluginhost.markers import hookspec
from core.pluginhost.types import (
    ApplicationField,
    CertificateTemplate,
    Event,
    HomeSection,
    InvitationOffer,
    LoginMethod,
)
from core.tenancy.snapshot import TenantSnapshot


@hookspec
def register_template_dirs() -> list[Path]:
    """Return folders of Jinja2 templates this plugin provides.

    Called when the template loader for a tenant is built (once per theme and set of
    enabled plugins). The folders are searched after the tenant's theme and before
    the core templates, so a theme can override a plugin's template and a plugin
    can override a core one. Name templates ``<plugin-id>/...`` to avoid clashes.
    """


@hookspec
def extra_home_sections(tenant: TenantSnapshot, locale: str) -> list[HomeSection]:
    """Return blocks to show on the tenant's home page.

    Called while rendering the home page of ``tenant`` in ``locale``. Each
    :class:`HomeSection` names a template (from ``register_template_dirs``) and its
    context; sections are shown by ``order``, then by plugin. Return an empty list
    to show nothing.
    """


@hookspec
def register_routes() -> list[ControllerRouterHandler]:
    """Return the Litestar route handlers (functions, Controllers, Routers) this plugin serves.

    Called once per process when the web application is built, for every installed
    plugin. Core mounts each plugin's handlers under ``/p/<plugin-id>``: a handler
    declared at ``/request`` answers at ``/p/<plugin-id>/request``. They answer only
    on the hosts of tenants that have enabled the plugin; on the platform host and on
    every other tenant each of them is a 404 (before CSRF checks and guards run).
    Name handlers ``<plugin-id>.…``: names are unique across the application.
    """


@hookspec
def extra_login_methods(
    tenant: TenantSnapshot, locale: str, next_path: str, invitation: InvitationOffer | None
) -> list[LoginMethod]:
    """Return further ways to sign in, shown on the tenant's ``/login`` page.

    Called while the sign-in page of ``tenant`` is rendered in ``locale``, after the
    tenant's identity providers are listed. ``next_path`` is the checked local path
    the person should reach after signing in (``"/"`` when none was asked for). Each
    :class:`LoginMethod` names a template (from ``register_template_dirs``) and its
    context; methods are shown by ``order``. Return an empty list to add nothing.

    The invitation page (``/invite/<token>``) calls it too, with ``invitation`` set to
    the pending :class:`InvitationOffer` the visitor opened (None on ``/login``): a
    method shown there lets an invited person in who has no account anywhere. Its
    route spends the invitation with
    :func:`core.web.controllers.invitations.redeem_invitation`.
    """


@hookspec
def extra_application_fields(
    tenant: TenantSnapshot, kind: str, locale: str
) -> list[ApplicationField]:
    """Return fields to add to the tenant's application form for ``kind``.

    Called whenever an application form of ``tenant`` is shown or submitted (pages and
    API), with ``kind`` ``"mentee"`` or ``"mentor"`` and the page's ``locale``, in which
    labels and help texts should be returned. Core renders each
    :class:`ApplicationField` after its own fields, validates the answer by its type
    and stores it in ``Application.extra[<plugin-id>][<field name>]``; coordinators see
    it on the intake page. Return an empty list to add nothing for this kind.
    """


@hookspec
def register_matching_criteria(tenant: TenantSnapshot) -> list[Criterion]:
    """Return the matching criteria this plugin contributes for ``tenant``.

    Called once per matching run (and for self-match suggestions) of ``tenant``, only
    for the plugins it has enabled. Build each :class:`~core.matching.criteria.Criterion`
    with the tenant's settings (its weight and parameters come from
    ``tenant.plugin_settings[<plugin-id>]``). ``Criterion.evaluate`` works on numpy
    columns of a block of mentees against all mentors and returns a boolean mask
    (filters) or a score matrix in [0, 1] (scores), never looping over pairs in Python;
    ``Criterion.explain`` says in one sentence what it saw in one pair. Criterion ids
    must be unique within the tenant's enabled plugins.
    """


@hookspec
def register_certificate_templates(tenant: TenantSnapshot) -> list[CertificateTemplate]:
    """Return the certificate designs this plugin offers to ``tenant``.

    Called when certificates of ``tenant`` are issued, previewed or edited, only for
    the plugins it has enabled. Each :class:`CertificateTemplate` carries its wording
    per language as Jinja2 HTML, which a coordinator may replace with their own (kept
    per tenant, rendered in the sandbox). For each role (mentee, mentor, company) the
    tenant uses the first template, sorted by id, that is for that role; template ids
    must be unique within the tenant's enabled plugins.
    """


@hookspec
def handle_event(tenant: TenantSnapshot, event: Event) -> None:
    """React to something that happened in ``tenant``: notify, export, integrate.

    Called in a background job after the change that caused ``event`` committed,
    never inside the request. The job may be delivered more than once: use
    ``event.id`` to act only once. An exception makes the job retry later.
    Returns nothing (a return value is ignored).
    """


@hookspec(firstresult=True)
def map_claims(
    tenant: TenantSnapshot, provider_id: str, claims: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Return profile fields taken from a provider's claims, or None to leave them alone.

    Called once per successful single sign-on in ``tenant``, after the ID token was
    verified and before the account is looked up, with the provider's ``provider_id``
    (as in the tenant file) and its verified ``claims``. The result may set ``name``,
    ``email``, ``email_verified`` and ``locale``; those keys replace what core read
    from the standard claims, the others stay. The first plugin that returns a dict
    wins. The claims only describe the person: accounts are always linked by issuer
    and subject, whatever this returns.
    """
