"""``/api/v1/pairings``: tandems, their lifecycle actions, agreement and meetings as JSON.

Same permissions as the pages (the session cookie; unsafe methods also need the
``x-csrftoken`` header carrying the ``tandem_csrf`` cookie's value). A tandem the caller
may not see answers 404, as one that does not exist. Errors are problem documents
(RFC 9457): 403 for a role that may never do this, 404, 409 when the tandem changed
since the ``version`` the client sent (with the current state in ``pairing``) or the
action does not fit its state, 422 with ``errors`` per field.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import Struct, to_builtins
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_login, require_role
from core.pairings import services
from core.pairings.controllers import client_ip, signed_in, site_url
from core.pairings.lifecycle import Action, Actor, PairingState, TransitionRefused
from core.pairings.messages import CONFLICT, PROPOSAL_CONFLICT, REFUSALS
from core.pairings.models import Agreement, Meeting
from core.pairings.schemas import (
    ActionIn,
    AgreementAcceptIn,
    AgreementOut,
    GoalsIn,
    MeetingIn,
    MeetingOut,
    PairingOut,
    PersonOut,
    ProposalIn,
)
from core.pairings.services import ActionDenied, Conflict, Denied, PairingAccess, PairingNotFound
from core.programmes.schemas import InvalidInput
from core.web.errors import TITLES
from core.web.sites import current_tenant, request_context


class FieldErrorOut(Struct, kw_only=True):
    key: str
    message: str
    source: str = "body"


class ProblemOut(Struct, kw_only=True):
    """A problem document (RFC 9457); ``errors`` as Litestar's own 400s list them."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldErrorOut] | None = None
    pairing: PairingOut | None = None
    agreement: AgreementOut | None = None


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=ProblemOut,
        description=description,
        media_type="application/problem+json",
        generate_examples=False,
    )


NOT_FOUND = {404: _spec("No such tandem for you: unknown, or not yours to see.")}
WRITE_ERRORS = {
    **NOT_FOUND,
    403: _spec("Your role in this tandem may never do this."),
    409: _spec(
        "Changed since the version you sent (the current state is in `pairing`), "
        "or not possible in its current state."
    ),
    422: _spec("Invalid input; `errors` names each field."),
}


def problem(
    request: Request[Any, Any, Any],
    status: int,
    detail: str = "",
    *,
    errors: dict[str, str] | None = None,
    **extra: Any,
) -> Response[Any]:
    """A problem document in the request's language (``detail`` already translated)."""
    locale = request_context(request).locale
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": gettext(locale, TITLES.get(status, TITLES[400])),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = [
            {"key": key, "message": message, "source": "body"} for key, message in errors.items()
        ]
    body |= {key: to_builtins(value) for key, value in extra.items() if value is not None}
    return Response(body, status_code=status, media_type="application/problem+json")


# --- turning service exceptions into problems ----------------------------------------------


def _not_found(request: Request[Any, Any, Any], _exc: Exception) -> Response[Any]:
    return problem(request, 404)


def _refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    code = exc.refusal if isinstance(exc, TransitionRefused) else exc.code  # type: ignore[attr-defined]
    if code is Denied.MEETING_NOT_FOUND:
        return _not_found(request, exc)
    message, status = REFUSALS[code]
    locale = request_context(request).locale
    errors = {"reason": gettext(locale, message)} if code == "reason_required" else None
    return problem(request, status, gettext(locale, message), errors=errors)


def _invalid(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, InvalidInput)
    return problem(request, 422, errors=exc.messages(request_context(request).locale))


class ConflictWithState(Exception):
    """A :class:`Conflict` with the current state already read, for the sync handler."""

    def __init__(self, current: dict[str, Any]) -> None:
        super().__init__("conflict")
        self.current = current


async def current_state(
    request: Request[Any, Any, Any], db: Database, user: CurrentUser, conflict: Conflict
) -> ConflictWithState:
    """What a 409 shows: the tandem (and its agreement) as they are now."""
    current: dict[str, Any] = {}
    if conflict.pairing_id is not None:
        async with db.tenant_session(current_tenant(request).id) as session:
            access = await services.access_pairing_by_id(session, user, conflict.pairing_id)
            [current["pairing"]] = await pairing_outs(session, [access])
            if conflict.what == "agreement":
                agreement = await services.agreement_of(session, access.pairing)
                current["agreement"] = agreement_out(access, agreement)
    return ConflictWithState(current)


def _conflict(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, ConflictWithState)
    locale = request_context(request).locale
    if "pairing" not in exc.current:  # a proposal raced another one
        return problem(request, 409, gettext(locale, PROPOSAL_CONFLICT))
    return problem(request, 409, gettext(locale, CONFLICT), **exc.current)


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    PairingNotFound: _not_found,
    TransitionRefused: _refused,
    ActionDenied: _refused,
    InvalidInput: _invalid,
    ConflictWithState: _conflict,
}


# --- shapes ----------------------------------------------------------------------------------


async def pairing_outs(
    session: AsyncSession, accesses: Sequence[PairingAccess]
) -> list[PairingOut]:
    ids = [a.pairing.id for a in accesses]
    minutes = await services.minutes_logged(session, ids)
    facts = await services.cohort_facts(session, {a.pairing.cohort_id for a in accesses})
    return [_pairing_out(a, minutes[a.pairing.id], facts[a.pairing.cohort_id]) for a in accesses]


def _person_out(access: PairingAccess, side: Actor) -> PersonOut:
    application = access.mentee if side is Actor.MENTEE else access.mentor
    shows = access.is_coordinator or side in access.actors or access.shows_contact
    return PersonOut(
        application_id=application.id,
        name=application.name,
        email=application.email if shows else None,
    )


def _pairing_out(access: PairingAccess, minutes: int, facts: services.CohortFacts) -> PairingOut:
    p = access.pairing
    return PairingOut(
        id=p.id,
        cohort=facts.slug,
        state=access.state,
        version=p.version,
        mentee=_person_out(access, Actor.MENTEE),
        mentor=_person_out(access, Actor.MENTOR),
        proposed_at=p.proposed_at,
        mentee_accepted_at=p.mentee_accepted_at,
        mentor_accepted_at=p.mentor_accepted_at,
        activated_at=p.activated_at,
        paused_at=p.paused_at,
        ended_at=p.ended_at,
        reason=p.reason,
        at_risk_since=p.at_risk_since,
        minutes_logged=minutes,
        expected_hours=facts.expected_hours,
        your_roles=sorted(access.actors),
        available_actions=access.available_actions(),
        score=p.score if access.is_coordinator else None,
    )


def agreement_out(access: PairingAccess, agreement: Agreement | None) -> AgreementOut:
    return AgreementOut(
        pairing_id=access.pairing.id,
        goals=agreement.goals if agreement else "",
        version=agreement.version if agreement else 0,
        mentee_accepted_at=agreement.mentee_accepted_at if agreement else None,
        mentor_accepted_at=agreement.mentor_accepted_at if agreement else None,
        updated_at=agreement.updated_at if agreement else None,
    )


def meeting_out(access: PairingAccess, meeting: Meeting) -> MeetingOut:
    return MeetingOut(
        id=meeting.id,
        pairing_id=meeting.pairing_id,
        held_on=meeting.held_on,
        minutes=meeting.minutes,
        format=meeting.format,
        topic=meeting.topic,
        # Private to the pair: a coordinator gets null.
        notes=meeting.notes if access.is_participant else None,
    )


def _meeting_raw(data: MeetingIn) -> dict[str, Any]:
    return {
        "held_on": data.held_on,
        "minutes": data.minutes,
        "format": data.format,
        "topic": data.topic,
        "notes": data.notes,
    }


T = TypeVar("T")


async def write(
    request: Request[Any, Any, Any],
    db: Database,
    user: CurrentUser,
    pairing_id: uuid.UUID,
    change: Callable[[AsyncSession, PairingAccess], Awaitable[T]],
) -> T:
    """Run ``change`` on the tandem in one transaction; a conflict comes back with the
    current state (read after the rollback)."""
    try:
        async with db.tenant_session(current_tenant(request).id) as session, session.begin():
            access = await services.access_pairing_by_id(session, user, pairing_id)
            return await change(session, access)
    except Conflict as conflict:
        raise await current_state(request, db, user, conflict) from None


# --- the controller --------------------------------------------------------------------------


class PairingsApi(Controller):
    path = "/api/v1/pairings"
    tags = ["pairings"]
    guards = [require_login]
    exception_handlers = EXCEPTION_HANDLERS

    @get("", name="api.pairings")
    async def list_pairings(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        cohort: Annotated[
            str | None, QueryParameter(name="cohort", description="Only this cohort's (slug).")
        ] = None,
        # "state" is a name Litestar reserves for the application state.
        in_state: Annotated[
            PairingState | None, QueryParameter(name="state", description="Only in this state.")
        ] = None,
    ) -> list[PairingOut]:
        """The tandems you may see: all of the programme's for coordinators, your own otherwise."""
        user = signed_in(current_user)
        async with db.tenant_session(current_tenant(request).id) as session:
            chosen = None
            if cohort is not None:
                chosen = await services.cohort_by_slug(session, cohort)
                if chosen is None:
                    raise NotFoundException()
            accesses = await services.visible_pairings(session, user, cohort=chosen, state=in_state)
            return await pairing_outs(session, accesses)

    @get("/{pairing_id:uuid}", name="api.pairing", responses=NOT_FOUND)
    async def get_pairing(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
    ) -> PairingOut:
        """One tandem, with what you may do now (``available_actions``)."""
        async with db.tenant_session(current_tenant(request).id) as session:
            access = await services.access_pairing_by_id(
                session, signed_in(current_user), pairing_id
            )
            [out] = await pairing_outs(session, [access])
        return out

    @post(
        "",
        name="api.propose_pairing",
        guards=[require_role("admin")],
        responses={**WRITE_ERRORS, 404: _spec("No such cohort.")},
    )
    async def propose(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        data: JSONBody[ProposalIn],
    ) -> PairingOut:
        """Propose a tandem (coordinators). Both people are told by e-mail."""
        user = signed_in(current_user)
        try:
            async with db.tenant_session(current_tenant(request).id) as session, session.begin():
                cohort = await services.cohort_by_slug(session, data.cohort)
                if cohort is None:
                    raise NotFoundException()
                pairing = await services.propose_by_ids(
                    session,
                    cohort,
                    data.mentee_application_id,
                    data.mentor_application_id,
                    user,
                    ip=client_ip(request),
                    base_url=site_url(request),
                )
                pairing_id = pairing.id
        except Conflict as conflict:
            raise await current_state(request, db, user, conflict) from None
        return await self._one(request, db, user, pairing_id)

    @post(
        "/{pairing_id:uuid}/actions/{action:str}",
        name="api.pairing_action",
        status_code=200,
        responses=WRITE_ERRORS,
    )
    async def act(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
        action: FromPath[str],
        data: JSONBody[ActionIn],
    ) -> PairingOut:
        """Act on a tandem: accept, decline, withdraw, pause, resume, complete, dissolve.

        Send the ``version`` you last saw; dissolving needs a ``reason``.
        """
        try:
            chosen = Action(action)
        except ValueError:
            raise NotFoundException() from None
        user = signed_in(current_user)

        async def change(session: AsyncSession, access: PairingAccess) -> None:
            await services.act(
                session,
                access.pairing,
                chosen,
                user,
                data.version,
                data.reason,
                data.as_actor,
                ip=client_ip(request),
                base_url=site_url(request),
            )

        await write(request, db, user, pairing_id, change)
        return await self._one(request, db, user, pairing_id)

    async def _one(
        self,
        request: Request[Any, Any, Any],
        db: Database,
        user: CurrentUser,
        pairing_id: uuid.UUID,
    ) -> PairingOut:
        async with db.tenant_session(current_tenant(request).id) as session:
            access = await services.access_pairing_by_id(session, user, pairing_id)
            [out] = await pairing_outs(session, [access])
        return out

    # --- the agreement ---

    @get("/{pairing_id:uuid}/agreement", name="api.agreement", responses=NOT_FOUND)
    async def get_agreement(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
    ) -> AgreementOut:
        """The tandem agreement (goals and who accepted them); coordinators may read it."""
        async with db.tenant_session(current_tenant(request).id) as session:
            access = await services.access_pairing_by_id(
                session, signed_in(current_user), pairing_id
            )
            return agreement_out(access, await services.agreement_of(session, access.pairing))

    @put("/{pairing_id:uuid}/agreement", name="api.save_agreement", responses=WRITE_ERRORS)
    async def save_agreement(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
        data: JSONBody[GoalsIn],
    ) -> AgreementOut:
        """Write or change the goals (either participant); both acceptances are cleared."""

        async def change(session: AsyncSession, access: PairingAccess) -> AgreementOut:
            agreement = await services.save_goals(
                session, access, data.goals, data.version, ip=client_ip(request)
            )
            return agreement_out(access, agreement)

        return await write(request, db, signed_in(current_user), pairing_id, change)

    @post(
        "/{pairing_id:uuid}/agreement/accept",
        name="api.accept_agreement",
        status_code=200,
        responses=WRITE_ERRORS,
    )
    async def accept_agreement(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
        data: JSONBody[AgreementAcceptIn],
    ) -> AgreementOut:
        """Accept the goals as they are at ``version`` (each participant once)."""

        async def change(session: AsyncSession, access: PairingAccess) -> AgreementOut:
            agreement = await services.accept_agreement(
                session, access, data.version, data.as_actor, ip=client_ip(request)
            )
            return agreement_out(access, agreement)

        return await write(request, db, signed_in(current_user), pairing_id, change)

    # --- meetings ---

    @get("/{pairing_id:uuid}/meetings", name="api.meetings", responses=NOT_FOUND)
    async def list_meetings(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
    ) -> list[MeetingOut]:
        """The tandem's meetings, latest first. Notes only for the pair."""
        async with db.tenant_session(current_tenant(request).id) as session:
            access = await services.access_pairing_by_id(
                session, signed_in(current_user), pairing_id
            )
            return [
                meeting_out(access, m) for m in await services.meetings_of(session, access.pairing)
            ]

    @post("/{pairing_id:uuid}/meetings", name="api.log_meeting", responses=WRITE_ERRORS)
    async def log_meeting(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
        data: JSONBody[MeetingIn],
    ) -> MeetingOut:
        """Log a meeting (participants). Clears the tandem's "at risk" flag."""

        async def change(session: AsyncSession, access: PairingAccess) -> MeetingOut:
            meeting = await services.log_meeting(
                session, access, _meeting_raw(data), ip=client_ip(request)
            )
            return meeting_out(access, meeting)

        return await write(request, db, signed_in(current_user), pairing_id, change)

    @put(
        "/{pairing_id:uuid}/meetings/{meeting_id:uuid}",
        name="api.change_meeting",
        responses=WRITE_ERRORS,
    )
    async def change_meeting(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
        meeting_id: FromPath[uuid.UUID],
        data: JSONBody[MeetingIn],
    ) -> MeetingOut:
        """Replace a meeting's details (participants)."""

        async def change(session: AsyncSession, access: PairingAccess) -> MeetingOut:
            meeting = await services.change_meeting(
                session, access, meeting_id, _meeting_raw(data), ip=client_ip(request)
            )
            return meeting_out(access, meeting)

        return await write(request, db, signed_in(current_user), pairing_id, change)

    @delete(
        "/{pairing_id:uuid}/meetings/{meeting_id:uuid}",
        name="api.delete_meeting",
        responses=WRITE_ERRORS,
    )
    async def delete_meeting(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
        meeting_id: FromPath[uuid.UUID],
    ) -> None:
        """Delete a meeting (participants)."""

        async def change(session: AsyncSession, access: PairingAccess) -> None:
            await services.delete_meeting(session, access, meeting_id, ip=client_ip(request))

        await write(request, db, signed_in(current_user), pairing_id, change)
