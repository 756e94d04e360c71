"""Programmes and cohorts: every query and write; pages, API and loaders call these.

All functions take a *tenant* session (:meth:`core.db.sessions.Database.tenant_session`):
another tenant's programme is simply not found. Writes add their audit entry to the
same session, so they commit or roll back together; the caller owns the transaction.
Invalid input raises :class:`~core.programmes.schemas.InvalidInput` before anything
is changed (a slug taken by a concurrent request shows up as the same problem, not as
an ``IntegrityError``).

Visibility: published programmes and their cohorts are public; unpublished ones exist
only for the tenant's admins (everyone else gets a 404, so their existence does not
leak). The ``access_*`` helpers check tenant, visibility and permission together.

Editing is last-write-wins (these rows have no version column): a page saves the
fields its form shows, the API the fields a client sends; nothing else is touched.

Dates: tenants have no time zone yet, so "today" is the UTC date everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from litestar.exceptions import NotFoundException, PermissionDeniedException
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.models import Application
from core.identity import audit
from core.identity.guards import CurrentUser
from core.programmes.models import Cohort, Programme
from core.programmes.schemas import (
    N_,
    CohortStatus,
    InvalidInput,
    Problem,
    check_cohort,
    check_programme,
)

# Audit actions (labelled on /admin/audit).
PROGRAMME_CREATED = "programme_created"
PROGRAMME_UPDATED = "programme_updated"
PROGRAMME_DELETED = "programme_deleted"
COHORT_CREATED = "cohort_created"
COHORT_UPDATED = "cohort_updated"
COHORT_DELETED = "cohort_deleted"
ADMIN_ROLE = "admin"

PROGRAMME_SLUG_TAKEN = N_("Another programme here already has this short name.")
COHORT_SLUG_TAKEN = N_(
    "Another cohort here already has this short name (cohorts of all programmes share them)."
)
PROGRAMME_HAS_COHORTS = N_(
    "This programme still has cohorts. Delete its cohorts first; a cohort with "
    "applications cannot be deleted."
)
COHORT_HAS_APPLICATIONS = N_(
    "This cohort already has applications, so it cannot be deleted. Change its dates instead."
)


class Refused(Exception):
    """A change the rules do not allow now (``message`` is untranslated)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def today() -> date:
    return datetime.now(UTC).date()


def cohort_status(cohort: Cohort, on: date | None = None) -> CohortStatus:
    on = on or today()
    if on < cohort.applications_open_on:
        return CohortStatus.UPCOMING
    if on <= cohort.applications_close_on:
        return CohortStatus.APPLICATIONS_OPEN
    if on < cohort.starts_on:
        return CohortStatus.MATCHING
    if on <= cohort.ends_on:
        return CohortStatus.RUNNING
    return CohortStatus.FINISHED


def is_admin(user: CurrentUser | None) -> bool:
    return user is not None and user.has_role(ADMIN_ROLE)


# --- queries ------------------------------------------------------------------------------


async def list_programmes(
    session: AsyncSession, *, include_unpublished: bool = False
) -> list[Programme]:
    query = select(Programme).order_by(Programme.name, Programme.slug)
    if not include_unpublished:
        query = query.where(Programme.published.is_(True))
    return list(await session.scalars(query))


async def programme_by_slug(session: AsyncSession, slug: str) -> Programme | None:
    return await session.scalar(select(Programme).where(Programme.slug == slug))


async def cohorts_of(session: AsyncSession, programme_ids: Sequence[uuid.UUID]) -> list[Cohort]:
    """The cohorts of these programmes, earliest start first."""
    if not programme_ids:
        return []
    query = (
        select(Cohort)
        .where(Cohort.programme_id.in_(list(programme_ids)))
        .order_by(Cohort.starts_on, Cohort.applications_open_on, Cohort.slug)
    )
    return list(await session.scalars(query))


async def cohort_by_slug(session: AsyncSession, programme: Programme, slug: str) -> Cohort | None:
    """The programme's cohort with this slug (another programme's is not found)."""
    return await session.scalar(
        select(Cohort).where(Cohort.programme_id == programme.id, Cohort.slug == slug)
    )


def upcoming(cohorts: Sequence[Cohort], on: date | None = None) -> list[Cohort]:
    """The cohorts whose applications are open or not yet open, the soonest first."""
    on = on or today()
    found = [c for c in cohorts if c.applications_close_on >= on]
    return sorted(found, key=lambda c: (c.applications_open_on, c.starts_on, c.slug))


@dataclass(frozen=True)
class Offer:
    """A published programme with the cohorts people can apply to now or soon."""

    programme: Programme
    cohorts: list[Cohort]


async def offers(session: AsyncSession, on: date | None = None) -> list[Offer]:
    """Published programmes whose applications are open or upcoming, with those cohorts.

    For the tenant's home page; the application forms themselves check the window again.
    """
    programmes = await list_programmes(session)
    open_or_soon = upcoming(await cohorts_of(session, [p.id for p in programmes]), on)
    result = []
    for programme in programmes:
        mine = [c for c in open_or_soon if c.programme_id == programme.id]
        if mine:
            result.append(Offer(programme, mine))
    return result


async def application_count(session: AsyncSession, cohort_ids: Sequence[uuid.UUID]) -> int:
    if not cohort_ids:
        return 0
    query = (
        select(func.count())
        .select_from(Application)
        .where(Application.cohort_id.in_(list(cohort_ids)))
    )
    return int(await session.scalar(query) or 0)


# --- access: tenant, visibility and permission together -----------------------------------


def _visible(programme: Programme | None, user: CurrentUser | None, for_write: bool) -> Programme:
    if programme is None or not (programme.published or is_admin(user)):
        raise NotFoundException()
    if for_write and not is_admin(user):
        raise PermissionDeniedException()
    return programme


async def access_programme_by_id(
    session: AsyncSession,
    user: CurrentUser | None,
    programme_id: uuid.UUID,
    *,
    for_write: bool = False,
) -> Programme:
    """The programme if this user may see it (404 otherwise) and, ``for_write``, change it (403)."""
    return _visible(await session.get(Programme, programme_id), user, for_write)


async def access_programme_by_slug(
    session: AsyncSession, user: CurrentUser | None, slug: str, *, for_write: bool = False
) -> Programme:
    return _visible(await programme_by_slug(session, slug), user, for_write)


async def access_cohort_by_id(
    session: AsyncSession,
    user: CurrentUser | None,
    programme: Programme,
    cohort_id: uuid.UUID,
    *,
    for_write: bool = False,
) -> Cohort:
    """The programme's cohort (a cohort of another programme or tenant: 404)."""
    _visible(programme, user, for_write)
    cohort = await session.get(Cohort, cohort_id)
    if cohort is None or cohort.programme_id != programme.id:
        raise NotFoundException()
    return cohort


async def access_cohort_by_slug(
    session: AsyncSession,
    user: CurrentUser | None,
    programme: Programme,
    slug: str,
    *,
    for_write: bool = False,
) -> Cohort:
    _visible(programme, user, for_write)
    cohort = await cohort_by_slug(session, programme, slug)
    if cohort is None:
        raise NotFoundException()
    return cohort


# --- writes -------------------------------------------------------------------------------


def _actor_id(actor: CurrentUser | uuid.UUID | None) -> uuid.UUID | None:
    return actor.id if isinstance(actor, CurrentUser) else actor


async def _flush_unique(session: AsyncSession, field: str, message: str) -> None:
    """Flush; a unique-constraint violation (a concurrent request took the slug) becomes
    the same problem the check before it reports. The caller's transaction is then
    unusable and must roll back, which raising out of it does."""
    try:
        await session.flush()
    except IntegrityError:
        raise InvalidInput({field: Problem(message)}) from None


def _changes(row: Programme | Cohort, values: Mapping[str, Any]) -> list[str]:
    """Write ``values`` into ``row``; the names of the fields that changed."""
    changed = []
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed.append(key)
    return changed


async def create_programme(
    session: AsyncSession,
    raw: Mapping[str, Any],
    *,
    actor: CurrentUser | uuid.UUID | None = None,
    ip: str | None = None,
) -> Programme:
    values = check_programme(raw)
    if await programme_by_slug(session, values["slug"]) is not None:
        raise InvalidInput({"slug": Problem(PROGRAMME_SLUG_TAKEN)})
    programme = Programme(**values)
    session.add(programme)
    await _flush_unique(session, "slug", PROGRAMME_SLUG_TAKEN)
    details = {"programme": programme.slug, "name": programme.name}
    audit.record(session, PROGRAMME_CREATED, _actor_id(actor), details, ip)
    return programme


async def update_programme(
    session: AsyncSession,
    programme: Programme,
    raw: Mapping[str, Any],
    *,
    actor: CurrentUser | uuid.UUID | None = None,
    ip: str | None = None,
) -> list[str]:
    """Set the fields in ``raw``; the names of those that changed (audited if any)."""
    changed = _changes(programme, check_programme(raw, current=programme))
    if changed:
        await session.flush()
        details = {"programme": programme.slug, "changed": changed}
        audit.record(session, PROGRAMME_UPDATED, _actor_id(actor), details, ip)
    return changed


async def delete_programme(
    session: AsyncSession,
    programme: Programme,
    *,
    actor: CurrentUser | uuid.UUID | None = None,
    ip: str | None = None,
) -> None:
    """Delete a programme that has no cohorts; :class:`Refused` otherwise."""
    # Lock the row first: a cohort being added concurrently (its foreign key locks the
    # programme's row too) is then either counted here or fails on the deleted row.
    await session.scalar(select(Programme.id).where(Programme.id == programme.id).with_for_update())
    if await cohorts_of(session, [programme.id]):
        raise Refused(PROGRAMME_HAS_COHORTS)
    await session.delete(programme)
    details = {"programme": programme.slug, "name": programme.name}
    audit.record(session, PROGRAMME_DELETED, _actor_id(actor), details, ip)
    await session.flush()


async def create_cohort(
    session: AsyncSession,
    programme: Programme,
    raw: Mapping[str, Any],
    *,
    actor: CurrentUser | uuid.UUID | None = None,
    ip: str | None = None,
) -> Cohort:
    values = check_cohort(raw)
    taken = await session.scalar(select(Cohort.id).where(Cohort.slug == values["slug"]))
    if taken is not None:
        raise InvalidInput({"slug": Problem(COHORT_SLUG_TAKEN)})
    cohort = Cohort(programme_id=programme.id, **values)
    session.add(cohort)
    await _flush_unique(session, "slug", COHORT_SLUG_TAKEN)
    details = {"programme": programme.slug, "cohort": cohort.slug, "name": cohort.name}
    audit.record(session, COHORT_CREATED, _actor_id(actor), details, ip)
    return cohort


async def update_cohort(
    session: AsyncSession,
    programme: Programme,
    cohort: Cohort,
    raw: Mapping[str, Any],
    *,
    actor: CurrentUser | uuid.UUID | None = None,
    ip: str | None = None,
) -> list[str]:
    changed = _changes(cohort, check_cohort(raw, current=cohort))
    if changed:
        await session.flush()
        details = {"programme": programme.slug, "cohort": cohort.slug, "changed": changed}
        audit.record(session, COHORT_UPDATED, _actor_id(actor), details, ip)
    return changed


async def delete_cohort(
    session: AsyncSession,
    programme: Programme,
    cohort: Cohort,
    *,
    actor: CurrentUser | uuid.UUID | None = None,
    ip: str | None = None,
) -> None:
    """Delete a cohort nobody has applied to; :class:`Refused` otherwise."""
    # As for programmes: an application being submitted locks the cohort's row.
    await session.scalar(select(Cohort.id).where(Cohort.id == cohort.id).with_for_update())
    if await application_count(session, [cohort.id]):
        raise Refused(COHORT_HAS_APPLICATIONS)
    await session.delete(cohort)
    details = {"programme": programme.slug, "cohort": cohort.slug, "name": cohort.name}
    audit.record(session, COHORT_DELETED, _actor_id(actor), details, ip)
    await session.flush()


__all__ = [
    "COHORT_CREATED",
    "COHORT_DELETED",
    "COHORT_UPDATED",
    "PROGRAMME_CREATED",
    "PROGRAMME_DELETED",
    "PROGRAMME_UPDATED",
    "Offer",
    "Refused",
    "access_cohort_by_id",
    "access_cohort_by_slug",
    "access_programme_by_id",
    "access_programme_by_slug",
    "application_count",
    "cohort_by_slug",
    "cohort_status",
    "cohorts_of",
    "create_cohort",
    "create_programme",
    "delete_cohort",
    "delete_programme",
    "list_programmes",
    "offers",
    "programme_by_slug",
    "today",
    "upcoming",
]
