"""``/matching/suggestions``: a mentee's top mentors in self-match mode, and the request.

Only for a mentee of a running cohort whose programme has ``self_matching`` on
(:func:`core.matching.self_match.standing_of`); anyone else — a mentor, a
coordinator, a mentee of a coordinated programme, another tenant's host — gets 404.
Each suggestion shows what a mentee may know of a mentor (name, occupation,
languages, district, employer and position where given; never the e-mail address
or other mentees), the score and one sentence per criterion in the page's language,
and a "request" button (a POST form with the CSRF token). A refused request shows
the page again, as it is now, with the reason and the status the API uses too.
"""

from __future__ import annotations

import uuid
from typing import Any

from babel.numbers import format_percent
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.applications.models import Application
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_login
from core.matching import self_match
from core.matching.criteria import SCALE
from core.matching.explain import Reason
from core.matching.self_match import NotOffered, Refusal, RequestRefused, Standing, Suggestion
from core.pairings.controllers import client_ip, signed_in, site_url
from core.pairings.lifecycle import PairingState
from core.pairings.messages import STATE_LABELS
from core.pairings.services import Conflict
from core.pluginhost.manager import PluginHost
from core.reference import languages, occupations
from core.web.errors import N_
from core.web.forms import form_text
from core.web.sites import current_tenant, request_context

# Every refusal of a request: its message and the status both edges answer with.
REFUSALS: dict[Refusal, tuple[str, int]] = {
    Refusal.OPEN_PAIRING: (
        N_(
            "You already have an open tandem. You can ask another mentor once it has been "
            "declined or has ended."
        ),
        409,
    ),
    Refusal.NOT_SUGGESTED: (
        N_(
            "This mentor is not among your suggestions any more (perhaps their places are "
            "taken). Please choose from your suggestions as they are now."
        ),
        409,
    ),
    Refusal.CHANGED: (
        N_(
            "Someone else asked for one of these places meanwhile, or your request was sent "
            "twice. Please look at your suggestions again."
        ),
        409,
    ),
}
NO_CHOICE = N_("Choose one of the mentors suggested to you.")
REQUESTED = N_(
    "Your request has been sent to %(mentor)s. You will get an e-mail as soon as they answer."
)


def refusal_text(refusal: Refusal, locale: str) -> tuple[str, int]:
    message, status = REFUSALS[refusal]
    return gettext(locale, message), status


# --- view models -------------------------------------------------------------------------------


def percent(score: int, locale: str) -> str:
    return format_percent(score / SCALE, locale=locale)


def mentor_facts(mentor: Application, locale: str) -> dict[str, Any]:
    """What a mentee may see of a suggested mentor: no e-mail address, no other mentees."""
    return {
        "application_id": str(mentor.id),
        "name": mentor.name,
        "occupation": mentor.occupation_code,
        "occupation_title": occupations.title(mentor.occupation_code, locale),
        "languages": [
            {
                "code": row["code"],
                "name": languages.name(row["code"], locale),
                "level": row.get("level", ""),
            }
            for row in mentor.languages or []
        ],
        "district": mentor.district,
        "employer": mentor.employer,
        "position": mentor.position,
    }


def reason_view(reason: Reason) -> dict[str, Any]:
    return {
        "criterion": reason.criterion,
        "label": reason.label,
        "score": reason.score,
        "weight": reason.weight,
        "sentence": reason.sentence,
        # A <meter> wants a plain number, whatever the page's language.
        "value": f"{reason.score:.3f}" if reason.score is not None else "",
    }


def suggestion_view(suggestion: Suggestion, locale: str) -> dict[str, Any]:
    return {
        "rank": suggestion.rank,
        "mentor": mentor_facts(suggestion.mentor, locale),
        "score": suggestion.score,
        "percent": percent(suggestion.score, locale),
        "value": f"{suggestion.score / SCALE:.3f}",
        "reasons": [reason_view(r) for r in suggestion.reasons],
    }


async def open_pairing_view(
    session: AsyncSession, standing: Standing, locale: str
) -> dict[str, Any] | None:
    pairing = standing.open_pairing
    if pairing is None:
        return None
    mentor = await session.get(Application, pairing.mentor_application_id)
    state = PairingState(pairing.state)
    return {
        "id": str(pairing.id),
        "path": f"/tandem/{pairing.id}",
        "state": state.value,
        "state_label": gettext(locale, STATE_LABELS[state]),
        "mentor": mentor.name if mentor is not None else "",
        "waiting": state is PairingState.PROPOSED and pairing.mentor_accepted_at is None,
    }


# --- the page ----------------------------------------------------------------------------------


async def _page(
    request: Request[Any, Any, Any],
    db: Database,
    plugins: PluginHost,
    user: CurrentUser,
    *,
    status: int = 200,
    message: str | None = None,
    done: str | None = None,
) -> Template:
    tenant = current_tenant(request)
    locale = request_context(request).locale
    async with db.tenant_session(tenant.id) as session:
        standing = await self_match.standing_of(session, user)
        if standing is None:
            raise NotFoundException()
        found = await self_match.suggestions_for(session, plugins, tenant, standing, locale)
        current = await open_pairing_view(session, standing, locale)
    context = {
        "programme": standing.programme.name,
        "cohort": standing.cohort.name,
        "open_pairing": current,
        "suggestions": [suggestion_view(s, locale) for s in found],
        "limit": self_match.SUGGESTIONS,
        "message": message,
        "done": gettext(locale, REQUESTED, mentor=current["mentor"]) if done and current else None,
    }
    return Template("matching/self_suggestions.html", context=context, status_code=status)


class SelfMatchPages(Controller):
    path = "/matching"
    include_in_schema = False
    guards = [require_login]

    @get("/suggestions", name="self_match.suggestions")
    async def suggestions(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Template:
        done = request.query_params.get("done") == "requested"
        return await _page(request, db, plugins, signed_in(current_user), done=done)

    @post("/requests", name="self_match.request")
    async def request_mentor(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Response[Any]:
        user = signed_in(current_user)
        tenant = current_tenant(request)
        locale = request_context(request).locale
        form = await request.form()
        try:
            mentor_id = uuid.UUID(form_text(form, "mentor_application_id", 40))
        except ValueError:
            message = gettext(locale, NO_CHOICE)
            return await _page(request, db, plugins, user, status=422, message=message)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                await self_match.request_mentor(
                    session,
                    plugins,
                    tenant,
                    user,
                    mentor_id,
                    ip=client_ip(request),
                    base_url=site_url(request),
                )
        except NotOffered:
            raise NotFoundException() from None
        except RequestRefused as refused:
            message, status = refusal_text(refused.refusal, locale)
            return await _page(request, db, plugins, user, status=status, message=message)
        except Conflict:
            message, status = refusal_text(Refusal.CHANGED, locale)
            return await _page(request, db, plugins, user, status=status, message=message)
        return Redirect(
            path=self_match.SUGGESTIONS_PATH, query_params={"done": "requested"}, status_code=303
        )


__all__ = ["REFUSALS", "SelfMatchPages", "mentor_facts", "refusal_text", "suggestion_view"]
