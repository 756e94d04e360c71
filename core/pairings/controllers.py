"""Tandem pages: ``/tandem`` for the people in a tandem, ``/admin/cohorts/<slug>/pairings``
for coordinators.

* ``/tandem`` lists the signed-in person's tandems; ``/tandem/<id>`` shows one, to its
  two participants and to coordinators. Participants see their partner (the e-mail
  address once the tandem has started), the buttons :func:`available_actions` allows,
  the agreement, their meetings with notes, and the hours against the programme's
  target. Coordinators see the same page read-only, without meeting notes.
* ``/admin/cohorts/<slug>/pairings`` lists a cohort's tandems by state, proposes new
  ones from the accepted mentees and the mentors with room, and acts on them.

Every button is a POST form with the CSRF token and the version the page showed; a
stale version answers 409 with the page as it is now. Refusals are shown in the
visitor's language, next to the field where there is one, with the status the API
uses for them too (:data:`core.pairings.messages.REFUSALS`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from babel.numbers import format_decimal, format_percent
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.base import utcnow
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_login, require_role
from core.identity.sessions import aware, client_ip
from core.mail.compose import format_date
from core.pairings import checkins, services
from core.pairings.checkin_controllers import upcoming_view
from core.pairings.lifecycle import RULES, Action, Actor, PairingState, TransitionRefused
from core.pairings.messages import (
    ACTION_LABELS,
    CONFLICT,
    FORMAT_LABELS,
    NOTICES,
    PROPOSAL_CONFLICT,
    REFUSALS,
    STATE_LABELS,
)
from core.pairings.models import Meeting, MeetingFormat
from core.pairings.schemas import MAX_GOALS_LENGTH, MAX_NOTES_LENGTH, MAX_REASON_LENGTH
from core.pairings.services import (
    ActionDenied,
    Conflict,
    PairingAccess,
    PairingNotFound,
)
from core.programmes.models import Cohort
from core.programmes.schemas import InvalidInput
from core.web.forms import form_text
from core.web.sites import current_tenant, request_context

REASON_ACTIONS = frozenset({Action.DECLINE, Action.WITHDRAW, Action.DISSOLVE})
# Form fields are cut one character beyond their limit, so that "too long" is reported.
FIELD_LIMITS = {
    "reason": MAX_REASON_LENGTH + 1,
    "goals": MAX_GOALS_LENGTH + 1,
    "held_on": 20,
    "minutes": 20,
    "format": 20,
    "topic": 201,
    "notes": MAX_NOTES_LENGTH + 1,
}
MEETING_FORM_FIELDS = ("held_on", "minutes", "format", "topic", "notes")


# --- what a failed form brings back --------------------------------------------------------


@dataclass
class Failure:
    """A refused submission: the status, a page-level message, and per form its values
    and field errors (keyed ``"<pairing id>:<form>"``)."""

    status: int
    message: str
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)


def _form_key(pairing_id: uuid.UUID | str, name: str) -> str:
    return f"{pairing_id}:{name}"


def _refusal(code: str, locale: str) -> tuple[str, int]:
    message, status = REFUSALS[code]
    return gettext(locale, message), status


def _version(form: Any) -> int:
    """The version the page showed; -1 (always stale) when missing or garbled."""
    text = form_text(form, "version", 12)
    return int(text) if text.isdigit() else -1


def _as_actor(form: Any) -> Actor | None:
    try:
        return Actor(form_text(form, "as_actor", 20)) if form.get("as_actor") else None
    except ValueError:
        return None


def site_url(request: Request[Any, Any, Any]) -> str:
    """This site's address, for links in mails (they lead back to this tenant's host)."""
    return f"{request.url.scheme}://{request_context(request).host}"


def signed_in(current_user: CurrentUser | None) -> CurrentUser:
    assert current_user is not None  # the guards let only signed-in people through
    return current_user


# --- view models ---------------------------------------------------------------------------


def _when(value: datetime | None, locale: str) -> str:
    return format_date(aware(value), locale) if value is not None else ""


def hours_view(minutes: int, expected: int | None, locale: str) -> dict[str, Any]:
    hours = minutes / 60
    return {
        "logged": format_decimal(round(hours, 1), format="#,##0.#", locale=locale),
        "expected": expected,
        "expected_text": format_decimal(expected, locale=locale) if expected else "",
        # <progress> wants a plain number, whatever the page's language.
        "value": f"{min(hours, expected):.2f}" if expected else "",
        # "50 %" in German, "%50" in Turkish: the language decides where the sign goes.
        "percent": format_percent(min(1, hours / expected), locale=locale) if expected else None,
    }


def _person(access: PairingAccess, side: Actor) -> dict[str, Any]:
    application = access.mentee if side is Actor.MENTEE else access.mentor
    own = side in access.actors
    shows_email = access.is_coordinator or own or access.shows_contact
    return {
        "name": application.name,
        "email": application.email if shows_email else None,
        "role": side.value,
    }


def _other(side: Actor) -> Actor:
    return Actor.MENTOR if side is Actor.MENTEE else Actor.MENTEE


def _actions(access: PairingAccess, locale: str) -> list[dict[str, Any]]:
    return [
        {
            "action": action.value,
            "label": gettext(locale, ACTION_LABELS[action]),
            "asks_reason": action in REASON_ACTIONS,
            "reason_required": RULES[action].reason_required,
        }
        for action in access.available_actions()
    ]


def meeting_view(meeting: Meeting, locale: str, *, with_notes: bool) -> dict[str, Any]:
    return {
        "id": str(meeting.id),
        "held_on": format_date(meeting.held_on, locale),
        "held_on_iso": meeting.held_on.isoformat(),
        "minutes": meeting.minutes,
        "format": gettext(locale, FORMAT_LABELS[MeetingFormat(meeting.format)]),
        "topic": meeting.topic,
        # Private to the pair: never handed to a template for anyone else.
        "notes": meeting.notes if with_notes else None,
    }


async def tandem_view(session: AsyncSession, access: PairingAccess, locale: str) -> dict[str, Any]:
    """Everything the tandem page shows of one tandem, for the person in ``access``."""
    pairing = access.pairing
    facts = (await services.cohort_facts(session, [pairing.cohort_id]))[pairing.cohort_id]
    minutes = (await services.minutes_logged(session, [pairing.id]))[pairing.id]
    agreement = await services.agreement_of(session, pairing)
    meetings = await services.meetings_of(session, pairing)
    participant = access.is_participant
    side = access.side() if participant else None
    state = access.state
    accepted_by = {
        "mentee": _when(pairing.mentee_accepted_at, locale),
        "mentor": _when(pairing.mentor_accepted_at, locale),
    }
    agreement_view = {
        "goals": agreement.goals if agreement else "",
        "version": agreement.version if agreement else 0,
        "mentee_accepted": _when(agreement.mentee_accepted_at, locale) if agreement else "",
        "mentor_accepted": _when(agreement.mentor_accepted_at, locale) if agreement else "",
        "writable": participant and state in services.AGREEMENT_STATES,
        "can_accept": bool(
            participant
            and agreement is not None
            and agreement.goals
            and state in services.AGREEMENT_STATES
            and (
                agreement.mentee_accepted_at
                if side is Actor.MENTEE
                else agreement.mentor_accepted_at
            )
            is None
        ),
    }
    return {
        "id": str(pairing.id),
        "version": pairing.version,
        "state": state.value,
        "state_label": gettext(locale, STATE_LABELS[state]),
        "cohort": {"slug": facts.slug, "name": facts.name},
        "is_participant": participant,
        "is_coordinator": access.is_coordinator,
        "side": side.value if side else None,
        "partner": _person(access, _other(side)) if side else None,
        "mentee": _person(access, Actor.MENTEE),
        "mentor": _person(access, Actor.MENTOR),
        "accepted_by": accepted_by,
        "proposed_on": _when(pairing.proposed_at, locale),
        "activated_on": _when(pairing.activated_at, locale),
        "ended_on": _when(pairing.ended_at, locale),
        "reason": pairing.reason,
        "at_risk_since": _when(pairing.at_risk_since, locale),
        "actions": _actions(access, locale),
        "agreement": agreement_view,
        "meetings": [meeting_view(m, locale, with_notes=participant) for m in meetings],
        "can_log_meetings": participant and state in services.MEETING_STATES,
        "hours": hours_view(minutes, facts.expected_hours, locale),
        "formats": [
            {"value": f.value, "label": gettext(locale, FORMAT_LABELS[f])} for f in MeetingFormat
        ],
        "today": utcnow().date().isoformat(),
    }


# --- acting from a form (both page families) ----------------------------------------------


async def _act_from_form(
    request: Request[Any, Any, Any],
    db: Database,
    user: CurrentUser,
    pairing_id: uuid.UUID,
    action_name: str,
    *,
    cohort: Cohort | None = None,
) -> Action | Failure:
    try:
        action = Action(action_name)
    except ValueError:
        raise NotFoundException() from None
    tenant = current_tenant(request)
    locale = request_context(request).locale
    form = await request.form()
    reason = form_text(form, "reason", FIELD_LIMITS["reason"])
    key = _form_key(pairing_id, f"action-{action}")
    try:
        async with db.tenant_session(tenant.id) as session, session.begin():
            access = await services.access_pairing_by_id(session, user, pairing_id)
            if cohort is not None and access.pairing.cohort_id != cohort.id:
                raise PairingNotFound(pairing_id)
            await services.act(
                session,
                access.pairing,
                action,
                user,
                _version(form),
                reason,
                _as_actor(form),
                ip=client_ip(request),
                base_url=site_url(request),
            )
    except PairingNotFound:
        raise NotFoundException() from None
    except Conflict:
        return Failure(409, gettext(locale, CONFLICT))
    except TransitionRefused as refused:
        message, status = _refusal(refused.refusal, locale)
        forms = {key: {"values": {"reason": reason}, "errors": {"reason": message}}}
        return Failure(status, message, forms if refused.refusal == "reason_required" else {})
    except InvalidInput as invalid:
        errors = invalid.messages(locale)
        return Failure(
            422, errors["reason"], {key: {"values": {"reason": reason}, "errors": errors}}
        )
    return action


# --- /tandem ---------------------------------------------------------------------------------


class TandemPages(Controller):
    path = "/tandem"
    include_in_schema = False
    guards = [require_login]

    @get("", name="tandem.mine")
    async def mine(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        user = signed_in(current_user)
        async with db.tenant_session(tenant.id) as session:
            tandems = [
                await tandem_view(session, access, locale)
                for access in await services.own_pairings(session, user)
            ]
            upcoming = await checkins.upcoming_checkins(session, user, utcnow().date())
        context = {"tandems": tandems, "checkins": upcoming_view(upcoming, locale)}
        return Template("pairings/mine.html", context=context)

    @get("/{pairing_id:uuid}", name="tandem.show")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
    ) -> Template:
        done = request.query_params.get("done")
        return await _tandem_page(request, db, signed_in(current_user), pairing_id, done=done)

    @post("/{pairing_id:uuid}/actions/{action:str}", name="tandem.act")
    async def act(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
        action: FromPath[str],
    ) -> Response[Any]:
        user = signed_in(current_user)
        outcome = await _act_from_form(request, db, user, pairing_id, action)
        if isinstance(outcome, Failure):
            return await _tandem_page(request, db, user, pairing_id, failure=outcome)
        return _back_to_tandem(pairing_id, f"action-{outcome}")

    @post("/{pairing_id:uuid}/agreement", name="tandem.goals")
    async def save_goals(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        user = signed_in(current_user)
        form = await request.form()
        goals = form_text(form, "goals", FIELD_LIMITS["goals"])
        key = _form_key(pairing_id, "goals")
        failure = await _write(
            request,
            db,
            user,
            pairing_id,
            lambda session, access: services.save_goals(
                session, access, goals, _version(form), ip=client_ip(request)
            ),
            key,
            {"goals": goals},
        )
        if failure is not None:
            return await _tandem_page(request, db, user, pairing_id, failure=failure)
        return _back_to_tandem(pairing_id, "goals")

    @post("/{pairing_id:uuid}/agreement/accept", name="tandem.accept_goals")
    async def accept_goals(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        user = signed_in(current_user)
        form = await request.form()
        failure = await _write(
            request,
            db,
            user,
            pairing_id,
            lambda session, access: services.accept_agreement(
                session, access, _version(form), _as_actor(form), ip=client_ip(request)
            ),
            _form_key(pairing_id, "goals"),
            {},
        )
        if failure is not None:
            return await _tandem_page(request, db, user, pairing_id, failure=failure)
        return _back_to_tandem(pairing_id, "goals-accepted")

    @post("/{pairing_id:uuid}/meetings", name="tandem.log_meeting")
    async def log_meeting(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        user = signed_in(current_user)
        values = _meeting_values(await request.form())
        failure = await _write(
            request,
            db,
            user,
            pairing_id,
            lambda session, access: services.log_meeting(
                session, access, values, ip=client_ip(request)
            ),
            _form_key(pairing_id, "meeting"),
            values,
        )
        if failure is not None:
            return await _tandem_page(request, db, user, pairing_id, failure=failure)
        return _back_to_tandem(pairing_id, "meeting-logged")

    @get("/{pairing_id:uuid}/meetings/{meeting_id:uuid}", name="tandem.meeting")
    async def meeting_page(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
        meeting_id: FromPath[uuid.UUID],
    ) -> Template:
        return await _meeting_page(request, db, signed_in(current_user), pairing_id, meeting_id)

    @post("/{pairing_id:uuid}/meetings/{meeting_id:uuid}", name="tandem.change_meeting")
    async def change_meeting(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
        meeting_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        user = signed_in(current_user)
        values = _meeting_values(await request.form())
        failure = await _write(
            request,
            db,
            user,
            pairing_id,
            lambda session, access: services.change_meeting(
                session, access, meeting_id, values, ip=client_ip(request)
            ),
            _form_key(pairing_id, "meeting"),
            values,
        )
        if failure is not None:
            return await _meeting_page(
                request, db, user, pairing_id, meeting_id, failure=failure, values=values
            )
        return _back_to_tandem(pairing_id, "meeting-changed")

    @post("/{pairing_id:uuid}/meetings/{meeting_id:uuid}/delete", name="tandem.delete_meeting")
    async def delete_meeting(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        pairing_id: FromPath[uuid.UUID],
        meeting_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        user = signed_in(current_user)
        failure = await _write(
            request,
            db,
            user,
            pairing_id,
            lambda session, access: services.delete_meeting(
                session, access, meeting_id, ip=client_ip(request)
            ),
            _form_key(pairing_id, "meeting"),
            {},
        )
        if failure is not None:
            return await _tandem_page(request, db, user, pairing_id, failure=failure)
        return _back_to_tandem(pairing_id, "meeting-deleted")


def _meeting_values(form: Any) -> dict[str, str]:
    return {name: form_text(form, name, FIELD_LIMITS[name]) for name in MEETING_FORM_FIELDS}


def _back_to_tandem(pairing_id: uuid.UUID, done: str) -> Redirect:
    return Redirect(path=f"/tandem/{pairing_id}", query_params={"done": done}, status_code=303)


async def _write(
    request: Request[Any, Any, Any],
    db: Database,
    user: CurrentUser,
    pairing_id: uuid.UUID,
    change: Any,
    key: str,
    values: dict[str, str],
) -> Failure | None:
    """Run ``change(session, access)`` in one transaction; a refusal comes back as a Failure."""
    tenant = current_tenant(request)
    locale = request_context(request).locale
    try:
        async with db.tenant_session(tenant.id) as session, session.begin():
            access = await services.access_pairing_by_id(session, user, pairing_id)
            await change(session, access)
    except PairingNotFound:
        raise NotFoundException() from None
    except Conflict:
        return Failure(409, gettext(locale, CONFLICT), {key: {"values": values, "errors": {}}})
    except ActionDenied as denied:
        if denied.code is services.Denied.MEETING_NOT_FOUND:
            raise NotFoundException() from None
        message, status = _refusal(denied.code, locale)
        return Failure(status, message, {key: {"values": values, "errors": {}}})
    except InvalidInput as invalid:
        errors = invalid.messages(locale)
        return Failure(422, "", {key: {"values": values, "errors": errors}})
    return None


async def _tandem_page(
    request: Request[Any, Any, Any],
    db: Database,
    user: CurrentUser,
    pairing_id: uuid.UUID,
    *,
    failure: Failure | None = None,
    done: str | None = None,
) -> Template:
    tenant = current_tenant(request)
    locale = request_context(request).locale
    async with db.tenant_session(tenant.id) as session:
        try:
            access = await services.access_pairing_by_id(session, user, pairing_id)
        except PairingNotFound:
            raise NotFoundException() from None
        view = await tandem_view(session, access, locale)
    return Template(
        "pairings/tandem.html",
        context={
            "tandem": view,
            "failure": failure,
            "forms": failure.forms if failure else {},
            "done": _done_notice(done, locale),
        },
        status_code=failure.status if failure else 200,
    )


def _done_notice(done: str | None, locale: str) -> str | None:
    return gettext(locale, NOTICES[done]) if done in NOTICES else None


async def _meeting_page(
    request: Request[Any, Any, Any],
    db: Database,
    user: CurrentUser,
    pairing_id: uuid.UUID,
    meeting_id: uuid.UUID,
    *,
    failure: Failure | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    tenant = current_tenant(request)
    locale = request_context(request).locale
    async with db.tenant_session(tenant.id) as session:
        try:
            access = await services.access_pairing_by_id(session, user, pairing_id)
            meeting = await services.find_meeting(session, access, meeting_id)
        except PairingNotFound:
            raise NotFoundException() from None
        except ActionDenied:
            # Not one of this tandem's meetings, or not theirs to edit (coordinators).
            raise NotFoundException() from None
        view = await tandem_view(session, access, locale)
    stored = {
        "held_on": meeting.held_on.isoformat(),
        "minutes": str(meeting.minutes),
        "format": MeetingFormat(meeting.format).value,
        "topic": meeting.topic,
        "notes": meeting.notes,
    }
    errors = (
        failure.forms.get(_form_key(pairing_id, "meeting"), {}).get("errors", {}) if failure else {}
    )
    return Template(
        "pairings/meeting_edit.html",
        context={
            "tandem": view,
            "meeting_id": str(meeting_id),
            "values": values or stored,
            "errors": errors,
            "failure": failure,
        },
        status_code=failure.status if failure else 200,
    )


# --- /admin/cohorts/<slug>/pairings -----------------------------------------------------------


class CohortPairingsAdmin(Controller):
    path = "/admin/cohorts/{cohort_slug:str}/pairings"
    include_in_schema = False
    guards = [require_role("admin")]

    @get("", name="admin.cohort_pairings")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
    ) -> Template:
        done = request.query_params.get("done")
        return await _cohort_page(
            request,
            db,
            signed_in(current_user),
            cohort_slug,
            done=_done_notice(done, request_context(request).locale),
        )

    @post("", name="admin.propose_pairing")
    async def propose(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
    ) -> Response[Any]:
        user = signed_in(current_user)
        tenant = current_tenant(request)
        locale = request_context(request).locale
        form = await request.form()
        values = {
            name: form_text(form, name, 40)
            for name in ("mentee_application_id", "mentor_application_id")
        }
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                cohort = await _cohort(session, cohort_slug)
                await services.propose_by_ids(
                    session,
                    cohort,
                    _uuid(values["mentee_application_id"]),
                    _uuid(values["mentor_application_id"]),
                    user,
                    ip=client_ip(request),
                    base_url=site_url(request),
                )
        except InvalidInput as invalid:
            failure = Failure(
                422, "", {"propose": {"values": values, "errors": invalid.messages(locale)}}
            )
            return await _cohort_page(request, db, user, cohort_slug, failure=failure)
        except Conflict:
            failure = Failure(409, gettext(locale, PROPOSAL_CONFLICT), {})
            return await _cohort_page(request, db, user, cohort_slug, failure=failure)
        return Redirect(
            path=f"/admin/cohorts/{cohort_slug}/pairings",
            query_params={"done": "proposed"},
            status_code=303,
        )

    @post("/{pairing_id:uuid}/actions/{action:str}", name="admin.pairing_action")
    async def act(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        cohort_slug: FromPath[str],
        pairing_id: FromPath[uuid.UUID],
        action: FromPath[str],
    ) -> Response[Any]:
        user = signed_in(current_user)
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            cohort = await _cohort(session, cohort_slug)
        outcome = await _act_from_form(request, db, user, pairing_id, action, cohort=cohort)
        if isinstance(outcome, Failure):
            return await _cohort_page(
                request, db, user, cohort_slug, failure=outcome, highlight=str(pairing_id)
            )
        return Redirect(
            path=f"/admin/cohorts/{cohort_slug}/pairings",
            query_params={"done": f"action-{outcome}"},
            status_code=303,
        )


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def _cohort(session: AsyncSession, slug: str) -> Cohort:
    cohort = await services.cohort_by_slug(session, slug)
    if cohort is None:
        raise NotFoundException()
    return cohort


async def _cohort_page(
    request: Request[Any, Any, Any],
    db: Database,
    user: CurrentUser,
    cohort_slug: str,
    *,
    failure: Failure | None = None,
    done: str | None = None,
    highlight: str | None = None,
) -> Template:
    tenant = current_tenant(request)
    locale = request_context(request).locale
    wanted = request.query_params.get("state") or ""
    state = PairingState(wanted) if wanted in {s.value for s in PairingState} else None
    async with db.tenant_session(tenant.id) as session:
        cohort = await _cohort(session, cohort_slug)
        accesses = await services.visible_pairings(session, user, cohort=cohort, state=state)
        minutes = await services.minutes_logged(session, [a.pairing.id for a in accesses])
        facts = (await services.cohort_facts(session, [cohort.id]))[cohort.id]
        candidates = await services.proposal_candidates(session, cohort)
    rows = [
        {
            "id": str(a.pairing.id),
            "version": a.pairing.version,
            "state": a.state.value,
            "state_label": gettext(locale, STATE_LABELS[a.state]),
            "mentee": a.mentee.name,
            "mentor": a.mentor.name,
            "proposed_on": _when(a.pairing.proposed_at, locale),
            "accepted_by": {
                "mentee": _when(a.pairing.mentee_accepted_at, locale),
                "mentor": _when(a.pairing.mentor_accepted_at, locale),
            },
            "reason": a.pairing.reason,
            "at_risk_since": _when(a.pairing.at_risk_since, locale),
            "hours": hours_view(minutes.get(a.pairing.id, 0), facts.expected_hours, locale),
            "actions": _actions(a, locale),
        }
        for a in accesses
    ]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return Template(
        "pairings/cohort.html",
        context={
            "cohort": {"slug": cohort.slug, "name": cohort.name},
            "rows": rows,
            "states": [
                {"value": s.value, "label": gettext(locale, STATE_LABELS[s])} for s in PairingState
            ],
            "state": state.value if state else "",
            "counts": counts,
            "mentees": [{"id": str(a.id), "name": a.name} for a in candidates.mentees],
            "mentors": [
                {"id": str(a.id), "name": a.name, "remaining": remaining}
                for a, remaining in candidates.mentors
            ],
            "failure": failure,
            "forms": failure.forms if failure else {},
            "done": done,
            "highlight": highlight,
        },
        status_code=failure.status if failure else 200,
    )
