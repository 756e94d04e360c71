"""The pairing state machine, as a table: which action, from which state, by whom.

::

    proposed ──accept(both)──▶ active ──complete──▶ completed
       │  └─decline─▶ declined      │ ├─pause ─▶ paused ─resume─▶ active
       └─withdraw─▶ withdrawn       └─dissolve(reason)─▶ dissolved  (also from paused)

This module is pure: no database, no requests. :func:`decide` answers "may this
actor do this now, and what happens?"; the service in
:mod:`core.pairings.services` applies the answer in one transaction with its audit
entry, notifications and plugin event. Keeping the rules in one table makes them
easy to read, and lets the tests walk every (state, action, actor) combination.

Who is an actor: the pairing's ``mentee`` or ``mentor`` (the people whose
applications it joins) or a ``coordinator`` (an ``admin`` of the tenant). One person
can be several at once — a coordinator who also mentors — and may then act as
any of them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum


class PairingState(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    DISSOLVED = "dissolved"


# A mentee is in at most one of these at a time; a mentor's capacity counts them.
OPEN_STATES = frozenset({PairingState.PROPOSED, PairingState.ACTIVE, PairingState.PAUSED})
FINAL_STATES = frozenset(PairingState) - OPEN_STATES


class Action(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    WITHDRAW = "withdraw"
    PAUSE = "pause"
    RESUME = "resume"
    COMPLETE = "complete"
    DISSOLVE = "dissolve"


class Actor(StrEnum):
    MENTEE = "mentee"
    MENTOR = "mentor"
    COORDINATOR = "coordinator"


PARTICIPANTS = frozenset({Actor.MENTEE, Actor.MENTOR})
EVERYONE = frozenset(Actor)


@dataclass(frozen=True)
class Rule:
    source: frozenset[PairingState]
    actors: frozenset[Actor]
    target: PairingState
    reason_required: bool = False


RULES: dict[Action, Rule] = {
    # The target of ACCEPT is where the pairing goes once *both* sides accepted;
    # until then it stays proposed (see decide).
    Action.ACCEPT: Rule(frozenset({PairingState.PROPOSED}), PARTICIPANTS, PairingState.ACTIVE),
    Action.DECLINE: Rule(frozenset({PairingState.PROPOSED}), PARTICIPANTS, PairingState.DECLINED),
    Action.WITHDRAW: Rule(
        frozenset({PairingState.PROPOSED}), frozenset({Actor.COORDINATOR}), PairingState.WITHDRAWN
    ),
    Action.PAUSE: Rule(frozenset({PairingState.ACTIVE}), EVERYONE, PairingState.PAUSED),
    Action.RESUME: Rule(frozenset({PairingState.PAUSED}), EVERYONE, PairingState.ACTIVE),
    Action.COMPLETE: Rule(
        frozenset({PairingState.ACTIVE}), frozenset({Actor.COORDINATOR}), PairingState.COMPLETED
    ),
    Action.DISSOLVE: Rule(
        frozenset({PairingState.ACTIVE, PairingState.PAUSED}),
        frozenset({Actor.COORDINATOR}),
        PairingState.DISSOLVED,
        reason_required=True,
    ),
}


class Refusal(StrEnum):
    """Why an action was refused; each has a translated message in the web layer."""

    NOT_ALLOWED = "not_allowed"  # this actor may never do this
    WRONG_STATE = "wrong_state"  # not from the pairing's current state
    ALREADY_ACCEPTED = "already_accepted"  # this side accepted before
    REASON_REQUIRED = "reason_required"


class TransitionRefused(Exception):
    def __init__(self, refusal: Refusal, action: Action, state: PairingState) -> None:
        self.refusal = refusal
        self.action = action
        self.state = state
        super().__init__(f"{action} refused in state {state}: {refusal}")


@dataclass(frozen=True)
class Decision:
    """What an allowed action does: the new state and which side it accepted for."""

    action: Action
    actor: Actor
    source: PairingState
    target: PairingState
    accepted_side: Actor | None = None

    @property
    def changes_state(self) -> bool:
        return self.source != self.target


def decide(
    state: PairingState,
    action: Action,
    actors: Collection[Actor],
    *,
    accepted: Collection[Actor] = (),
    reason: str = "",
    as_actor: Actor | None = None,
) -> Decision:
    """Decide ``action`` on a pairing in ``state`` by someone who is all of ``actors``.

    ``accepted`` are the sides that accepted already. ``as_actor`` picks the role to
    act in when the person holds several (a coordinator accepting as the mentor);
    otherwise the first that is allowed, participants before coordinators.
    Raises :class:`TransitionRefused` when the action is not allowed.
    """
    rule = RULES[action]
    allowed = [a for a in (Actor.MENTEE, Actor.MENTOR, Actor.COORDINATOR) if a in actors]
    if as_actor is not None:
        allowed = [as_actor] if as_actor in actors else []
    allowed = [a for a in allowed if a in rule.actors]
    if not allowed:
        raise TransitionRefused(Refusal.NOT_ALLOWED, action, state)
    actor = allowed[0]
    if state not in rule.source:
        raise TransitionRefused(Refusal.WRONG_STATE, action, state)
    if rule.reason_required and not reason.strip():
        raise TransitionRefused(Refusal.REASON_REQUIRED, action, state)
    if action is Action.ACCEPT:
        if actor in accepted:
            raise TransitionRefused(Refusal.ALREADY_ACCEPTED, action, state)
        both = {*accepted, actor} >= PARTICIPANTS
        return Decision(action, actor, state, rule.target if both else state, accepted_side=actor)
    return Decision(action, actor, state, rule.target)


def available_actions(
    state: PairingState, actors: Collection[Actor], accepted: Collection[Actor] = ()
) -> list[Action]:
    """The actions someone who is all of ``actors`` could take now (for buttons)."""
    possible = []
    for action in Action:
        try:
            decide(state, action, actors, accepted=accepted, reason="-")
        except TransitionRefused:
            continue
        possible.append(action)
    return possible
