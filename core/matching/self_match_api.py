"""``/api/v1/matching``: a mentee's suggestions and requests in self-match mode, as JSON.

The same rules as the page (:mod:`core.matching.self_match_controllers`): only a
mentee of a running self-matching cohort gets an answer; anyone else 404. Unsafe
methods need the ``x-csrftoken`` header. Errors are problem documents (RFC 9457):
404, 409 when the request cannot be made now (an open tandem already, or the mentor
is not among the current suggestions), 400 for a body that is not one.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from msgspec import Meta, Struct

from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_login
from core.matching import self_match
from core.matching.criteria import SCALE
from core.matching.self_match import NotOffered, Refusal, RequestRefused, Suggestion
from core.matching.self_match_controllers import mentor_facts, refusal_text
from core.pairings import services
from core.pairings.api import _spec, pairing_outs, problem
from core.pairings.controllers import client_ip, signed_in, site_url
from core.pairings.schemas import PairingOut
from core.pairings.services import Conflict
from core.pluginhost.manager import PluginHost
from core.web.errors import N_
from core.web.sites import current_tenant, request_context

NOT_OFFERED = N_(
    "Suggestions are only for mentees of a programme where mentees choose their mentor."
)


class LanguageOut(Struct, kw_only=True):
    code: str
    name: str
    level: str


class MentorOut(Struct, kw_only=True):
    """What a mentee may see of a suggested mentor (never an e-mail address)."""

    application_id: uuid.UUID
    name: str
    occupation: Annotated[str, Meta(description="ISCO-08 code.")]
    occupation_title: str
    languages: list[LanguageOut]
    district: str
    employer: Annotated[str, Meta(description="Empty where the mentor did not give it.")]
    position: Annotated[str, Meta(description="Empty where the mentor did not give it.")]


class ReasonOut(Struct, kw_only=True):
    criterion: str
    label: str
    score: Annotated[float | None, Meta(description="In [0, 1]; null for filters.")]
    weight: float
    sentence: Annotated[str, Meta(description="In the language of the request.")]


class SuggestionOut(Struct, kw_only=True):
    rank: Annotated[int, Meta(description="1 is the best.")]
    score: Annotated[float, Meta(description="The pair's score in [0, 1].")]
    mentor: MentorOut
    reasons: list[ReasonOut]


class SuggestionsOut(Struct, kw_only=True):
    cohort: str
    programme: str
    open_pairing: Annotated[
        PairingOut | None,
        Meta(description="Your open tandem; while there is one, there are no suggestions."),
    ]
    suggestions: Annotated[list[SuggestionOut], Meta(description="At most 5, best first.")]


class RequestIn(Struct, kw_only=True):
    mentor_application_id: uuid.UUID


def _mentor_out(facts: dict[str, Any]) -> MentorOut:
    return MentorOut(
        application_id=uuid.UUID(facts["application_id"]),
        name=facts["name"],
        occupation=facts["occupation"],
        occupation_title=facts["occupation_title"],
        languages=[LanguageOut(**row) for row in facts["languages"]],
        district=facts["district"],
        employer=facts["employer"],
        position=facts["position"],
    )


def suggestion_out(suggestion: Suggestion, locale: str) -> SuggestionOut:
    return SuggestionOut(
        rank=suggestion.rank,
        score=round(suggestion.score / SCALE, 6),
        mentor=_mentor_out(mentor_facts(suggestion.mentor, locale)),
        reasons=[
            ReasonOut(
                criterion=r.criterion,
                label=r.label,
                score=None if r.score is None else round(float(r.score), 6),
                weight=float(r.weight),
                sentence=r.sentence,
            )
            for r in suggestion.reasons
        ],
    )


def _refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    locale = request_context(request).locale
    if isinstance(exc, NotOffered):
        return problem(request, 404, gettext(locale, NOT_OFFERED))
    refusal = exc.refusal if isinstance(exc, RequestRefused) else Refusal.CHANGED
    message, status = refusal_text(refusal, locale)
    pairing_id = exc.pairing_id if isinstance(exc, RequestRefused) else None
    return problem(request, status, message, pairing_id=str(pairing_id) if pairing_id else None)


REQUEST_ERRORS = {
    404: _spec("Self-matching is not offered to you here."),
    409: _spec(
        "You have an open tandem already (its id is in `pairing_id`), or the mentor is "
        "not among your suggestions now."
    ),
}


class SelfMatchApi(Controller):
    path = "/api/v1/matching"
    tags = ["matching"]
    guards = [require_login]
    exception_handlers = {NotOffered: _refused, RequestRefused: _refused, Conflict: _refused}

    @get("/suggestions", name="api.self_match.suggestions", responses={404: REQUEST_ERRORS[404]})
    async def suggestions(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
    ) -> SuggestionsOut:
        """Your top mentors with places left, best first, each with one sentence per
        criterion in your language (mentees of self-matching programmes)."""
        user = signed_in(current_user)
        tenant = current_tenant(request)
        locale = request_context(request).locale
        async with db.tenant_session(tenant.id) as session:
            standing = await self_match.require_standing(session, user)
            found = await self_match.suggestions_for(session, plugins, tenant, standing, locale)
            current = None
            if standing.open_pairing is not None:
                access = await services.access_pairing_by_id(
                    session, user, standing.open_pairing.id
                )
                [current] = await pairing_outs(session, [access])
        return SuggestionsOut(
            cohort=standing.cohort.slug,
            programme=standing.programme.name,
            open_pairing=current,
            suggestions=[suggestion_out(s, locale) for s in found],
        )

    @post("/requests", name="api.self_match.request", responses=REQUEST_ERRORS)
    async def request_mentor(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        data: JSONBody[RequestIn],
    ) -> Response[PairingOut]:
        """Ask one of your suggested mentors: a proposed tandem you have accepted already.

        The mentor is told by e-mail and accepts or declines. Sending the same request
        again while it waits answers 200 with the same tandem; a new one answers 201.
        """
        user = signed_in(current_user)
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session, session.begin():
            requested = await self_match.request_mentor(
                session,
                plugins,
                tenant,
                user,
                data.mentor_application_id,
                ip=client_ip(request),
                base_url=site_url(request),
            )
            pairing_id = requested.pairing.id
        async with db.tenant_session(tenant.id) as session:
            access = await services.access_pairing_by_id(session, user, pairing_id)
            [out] = await pairing_outs(session, [access])
        return Response(out, status_code=201 if requested.created else 200)


__all__ = ["SelfMatchApi", "SuggestionsOut", "suggestion_out"]
