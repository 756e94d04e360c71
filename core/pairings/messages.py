"""What the pages and the API say about tandems: labels, refusals and their HTTP status.

One table for both edges, so that a refusal reads the same on a page and in a problem
document. Messages are gettext msgids, translated where they are shown.
"""

from __future__ import annotations

from core.i18n import N_
from core.pairings.lifecycle import Action, PairingState, Refusal
from core.pairings.models import MeetingFormat
from core.pairings.services import Denied

STATE_LABELS = {
    PairingState.PROPOSED: N_("Proposed"),
    PairingState.ACTIVE: N_("Active"),
    PairingState.PAUSED: N_("Paused"),
    PairingState.COMPLETED: N_("Completed"),
    PairingState.DECLINED: N_("Declined"),
    PairingState.WITHDRAWN: N_("Withdrawn"),
    PairingState.DISSOLVED: N_("Dissolved"),
}
ACTION_LABELS = {
    Action.ACCEPT: N_("Accept the tandem"),
    Action.DECLINE: N_("Decline the tandem"),
    Action.WITHDRAW: N_("Withdraw the proposal"),
    Action.PAUSE: N_("Pause the tandem"),
    Action.RESUME: N_("Resume the tandem"),
    Action.COMPLETE: N_("Mark as completed"),
    Action.DISSOLVE: N_("Dissolve the tandem"),
}
# Done notices after a successful action (the page says what happened).
ACTION_DONE = {
    Action.ACCEPT: N_("You have accepted the tandem."),
    Action.DECLINE: N_("The tandem has been declined."),
    Action.WITHDRAW: N_("The proposal has been withdrawn."),
    Action.PAUSE: N_("The tandem is paused."),
    Action.RESUME: N_("The tandem continues."),
    Action.COMPLETE: N_("The tandem is marked as completed."),
    Action.DISSOLVE: N_("The tandem has been dissolved."),
}
# "?done=…" notices on the page a successful form leads back to.
NOTICES = {
    "goals": N_("The goals have been saved. Both of you can now accept them."),
    "goals-accepted": N_("You have accepted the goals."),
    "meeting-logged": N_("The meeting has been logged."),
    "meeting-changed": N_("The meeting has been changed."),
    "meeting-deleted": N_("The meeting has been deleted."),
    "proposed": N_("The tandem has been proposed. Both have been told by e-mail."),
    **{f"action-{action}": message for action, message in ACTION_DONE.items()},
}
FORMAT_LABELS = {
    MeetingFormat.IN_PERSON: N_("In person"),
    MeetingFormat.ONLINE: N_("Online (video call)"),
    MeetingFormat.PHONE: N_("By phone"),
}
ROLE_LABELS = {
    "mentee": N_("Mentee"),
    "mentor": N_("Mentor"),
    "coordinator": N_("Coordinator"),
}

CONFLICT = N_(
    "Someone else changed this tandem meanwhile. Here is its current state: "
    "please check it and try again."
)
PROPOSAL_CONFLICT = N_(
    "Someone else proposed a tandem with one of these people meanwhile. "
    "Please check the lists and try again."
)

# Every refusal: its message and the status the API and the pages answer with.
REFUSALS: dict[str, tuple[str, int]] = {
    Refusal.NOT_ALLOWED: (N_("You may not do this in this tandem."), 403),
    Refusal.WRONG_STATE: (N_("This is not possible in the tandem's current state."), 409),
    Refusal.ALREADY_ACCEPTED: (N_("You have already accepted this tandem."), 409),
    Refusal.REASON_REQUIRED: (N_("Give a reason for dissolving the tandem."), 422),
    Denied.NOT_PARTICIPANT: (
        N_("Only the two people of the tandem can do this; coordinators can read it."),
        403,
    ),
    Denied.AGREEMENT_CLOSED: (
        N_("The agreement can be written and accepted while the tandem is active or paused."),
        409,
    ),
    Denied.AGREEMENT_EMPTY: (N_("There are no goals to accept yet."), 409),
    Denied.AGREEMENT_ACCEPTED: (N_("You have already accepted these goals."), 409),
    Denied.MEETINGS_CLOSED: (N_("Meetings can be logged once the tandem has started."), 409),
    Denied.MEETING_NOT_FOUND: (N_("This meeting does not exist (any more)."), 404),
}
