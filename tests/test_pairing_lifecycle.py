"""The pairing state machine, walked exhaustively: every (state, action, actor) against a
table written out here by hand from the lifecycle in shared/DESIGN.md — not derived from
``core.pairings.lifecycle.RULES`` — so that a change to the rules shows up as a diff
between two independent statements of them.

Pure: no database, no requests.
"""

from __future__ import annotations

import itertools

import pytest

from core.pairings.lifecycle import (
    Action,
    Actor,
    PairingState,
    Refusal,
    TransitionRefused,
    available_actions,
    decide,
)

# What happens when one person, holding one role, does one action in one state, with a
# reason given and nobody having accepted yet. A state name is where the pairing goes
# ("proposed" for a first acceptance: it waits for the other side); a refusal is
# written as "!" and its code.
#
#   state       action      mentee          mentor          coordinator
EXPECTED_TABLE = """
    proposed    accept      proposed        proposed        !not_allowed
    proposed    decline     declined        declined        !not_allowed
    proposed    withdraw    !not_allowed    !not_allowed    withdrawn
    proposed    pause       !wrong_state    !wrong_state    !wrong_state
    proposed    resume      !wrong_state    !wrong_state    !wrong_state
    proposed    complete    !not_allowed    !not_allowed    !wrong_state
    proposed    dissolve    !not_allowed    !not_allowed    !wrong_state
    active      accept      !wrong_state    !wrong_state    !not_allowed
    active      decline     !wrong_state    !wrong_state    !not_allowed
    active      withdraw    !not_allowed    !not_allowed    !wrong_state
    active      pause       paused          paused          paused
    active      resume      !wrong_state    !wrong_state    !wrong_state
    active      complete    !not_allowed    !not_allowed    completed
    active      dissolve    !not_allowed    !not_allowed    dissolved
    paused      accept      !wrong_state    !wrong_state    !not_allowed
    paused      decline     !wrong_state    !wrong_state    !not_allowed
    paused      withdraw    !not_allowed    !not_allowed    !wrong_state
    paused      pause       !wrong_state    !wrong_state    !wrong_state
    paused      resume      active          active          active
    paused      complete    !not_allowed    !not_allowed    !wrong_state
    paused      dissolve    !not_allowed    !not_allowed    dissolved
    completed   accept      !wrong_state    !wrong_state    !not_allowed
    completed   decline     !wrong_state    !wrong_state    !not_allowed
    completed   withdraw    !not_allowed    !not_allowed    !wrong_state
    completed   pause       !wrong_state    !wrong_state    !wrong_state
    completed   resume      !wrong_state    !wrong_state    !wrong_state
    completed   complete    !not_allowed    !not_allowed    !wrong_state
    completed   dissolve    !not_allowed    !not_allowed    !wrong_state
    declined    accept      !wrong_state    !wrong_state    !not_allowed
    declined    decline     !wrong_state    !wrong_state    !not_allowed
    declined    withdraw    !not_allowed    !not_allowed    !wrong_state
    declined    pause       !wrong_state    !wrong_state    !wrong_state
    declined    resume      !wrong_state    !wrong_state    !wrong_state
    declined    complete    !not_allowed    !not_allowed    !wrong_state
    declined    dissolve    !not_allowed    !not_allowed    !wrong_state
    withdrawn   accept      !wrong_state    !wrong_state    !not_allowed
    withdrawn   decline     !wrong_state    !wrong_state    !not_allowed
    withdrawn   withdraw    !not_allowed    !not_allowed    !wrong_state
    withdrawn   pause       !wrong_state    !wrong_state    !wrong_state
    withdrawn   resume      !wrong_state    !wrong_state    !wrong_state
    withdrawn   complete    !not_allowed    !not_allowed    !wrong_state
    withdrawn   dissolve    !not_allowed    !not_allowed    !wrong_state
    dissolved   accept      !wrong_state    !wrong_state    !not_allowed
    dissolved   decline     !wrong_state    !wrong_state    !not_allowed
    dissolved   withdraw    !not_allowed    !not_allowed    !wrong_state
    dissolved   pause       !wrong_state    !wrong_state    !wrong_state
    dissolved   resume      !wrong_state    !wrong_state    !wrong_state
    dissolved   complete    !not_allowed    !not_allowed    !wrong_state
    dissolved   dissolve    !not_allowed    !not_allowed    !wrong_state
"""
COLUMNS = (Actor.MENTEE, Actor.MENTOR, Actor.COORDINATOR)


def _parse(table: str) -> dict[tuple[PairingState, Action, Actor], str]:
    expected = {}
    for line in table.strip().splitlines():
        state, action, *outcomes = line.split()
        assert len(outcomes) == len(COLUMNS), line
        for actor, outcome in zip(COLUMNS, outcomes, strict=True):
            key = (PairingState(state), Action(action), actor)
            assert key not in expected, f"{key} is in the table twice"
            expected[key] = outcome
    return expected


EXPECTED = _parse(EXPECTED_TABLE)
ALL = list(itertools.product(PairingState, Action, Actor))


def outcome_of(
    state: PairingState,
    action: Action,
    actors: set[Actor],
    *,
    accepted: tuple[Actor, ...] = (),
    reason: str = "because we agreed",
    as_actor: Actor | None = None,
) -> str:
    """What decide() says, in the table's notation."""
    try:
        decision = decide(
            state, action, actors, accepted=accepted, reason=reason, as_actor=as_actor
        )
    except TransitionRefused as refused:
        assert refused.action is action and refused.state is state
        return f"!{refused.refusal}"
    assert decision.source is state and decision.action is action
    return decision.target.value


def test_the_table_covers_every_combination_once() -> None:
    assert set(EXPECTED) == set(ALL)
    assert len(EXPECTED) == len(PairingState) * len(Action) * len(Actor) == 147


@pytest.mark.parametrize(("state", "action", "actor"), ALL, ids=lambda v: str(v))
def test_every_state_action_and_actor(state: PairingState, action: Action, actor: Actor) -> None:
    assert outcome_of(state, action, {actor}) == EXPECTED[(state, action, actor)]


@pytest.mark.parametrize(("state", "actor"), list(itertools.product(PairingState, Actor)))
def test_available_actions_are_exactly_the_allowed_ones(state: PairingState, actor: Actor) -> None:
    allowed = [a for a in Action if not EXPECTED[(state, a, actor)].startswith("!")]
    assert available_actions(state, {actor}) == allowed


def test_nobody_may_do_anything_without_a_role_in_the_tandem() -> None:
    for state, action in itertools.product(PairingState, Action):
        assert outcome_of(state, action, set()) == "!not_allowed"


# --- accepting: both sides, each once ------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"), [(Actor.MENTEE, Actor.MENTOR), (Actor.MENTOR, Actor.MENTEE)]
)
def test_the_tandem_starts_when_the_second_side_accepts(first: Actor, second: Actor) -> None:
    decision = decide(PairingState.PROPOSED, Action.ACCEPT, {first})
    assert decision.target is PairingState.PROPOSED and not decision.changes_state
    assert decision.accepted_side is first
    decision = decide(PairingState.PROPOSED, Action.ACCEPT, {second}, accepted={first})
    assert decision.target is PairingState.ACTIVE and decision.changes_state
    assert decision.accepted_side is second


@pytest.mark.parametrize("side", [Actor.MENTEE, Actor.MENTOR])
def test_a_side_accepts_once(side: Actor) -> None:
    assert outcome_of(PairingState.PROPOSED, Action.ACCEPT, {side}, accepted=(side,)) == (
        "!already_accepted"
    )
    # Declining after accepting is still possible while the other side has not answered.
    assert outcome_of(PairingState.PROPOSED, Action.DECLINE, {side}, accepted=(side,)) == "declined"


# --- dissolving needs a reason ----------------------------------------------------------------


@pytest.mark.parametrize("state", [PairingState.ACTIVE, PairingState.PAUSED])
@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_dissolving_without_a_reason_is_refused(state: PairingState, reason: str) -> None:
    got = outcome_of(state, Action.DISSOLVE, {Actor.COORDINATOR}, reason=reason)
    assert got == "!reason_required"


def test_only_dissolving_requires_a_reason() -> None:
    for state, action, actor in ALL:
        expected = EXPECTED[(state, action, actor)]
        got = outcome_of(state, action, {actor}, reason="")
        if action is Action.DISSOLVE and expected == "dissolved":
            assert got == "!reason_required"
        else:
            assert got == expected, (state, action, actor)


def test_the_role_is_checked_before_the_state_and_the_state_before_the_reason() -> None:
    assert outcome_of(PairingState.COMPLETED, Action.DISSOLVE, {Actor.MENTOR}, reason="") == (
        "!not_allowed"
    )
    assert outcome_of(PairingState.COMPLETED, Action.DISSOLVE, {Actor.COORDINATOR}, reason="") == (
        "!wrong_state"
    )


# --- one person, several roles --------------------------------------------------------------


def test_someone_with_several_roles_acts_as_a_participant_first() -> None:
    both = {Actor.COORDINATOR, Actor.MENTOR}
    assert decide(PairingState.ACTIVE, Action.PAUSE, both).actor is Actor.MENTOR
    # …unless a rule allows only the other role.
    assert decide(PairingState.ACTIVE, Action.COMPLETE, both).actor is Actor.COORDINATOR
    assert decide(PairingState.PROPOSED, Action.WITHDRAW, both).actor is Actor.COORDINATOR
    assert decide(PairingState.PROPOSED, Action.ACCEPT, both).accepted_side is Actor.MENTOR


def test_as_actor_picks_a_role_the_person_holds_and_only_that() -> None:
    both = {Actor.COORDINATOR, Actor.MENTOR}
    paused = decide(PairingState.ACTIVE, Action.PAUSE, both, as_actor=Actor.COORDINATOR)
    assert paused.actor is Actor.COORDINATOR
    # A role they do not hold is not theirs to claim.
    assert outcome_of(PairingState.PROPOSED, Action.ACCEPT, both, as_actor=Actor.MENTEE) == (
        "!not_allowed"
    )
    # A role they hold that may not do this is refused, not silently swapped.
    assert outcome_of(PairingState.ACTIVE, Action.COMPLETE, both, as_actor=Actor.MENTOR) == (
        "!not_allowed"
    )


def test_refusal_codes_are_the_documented_ones() -> None:
    assert {r.value for r in Refusal} == {
        "not_allowed",
        "wrong_state",
        "already_accepted",
        "reason_required",
    }
    used = {v[1:] for v in EXPECTED.values() if v.startswith("!")}
    assert used == {"not_allowed", "wrong_state"}
