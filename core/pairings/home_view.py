"""What the home page shows a participant: :class:`~core.pairings.dashboard.ParticipantHome`
worded in the visitor's language, for ``pairings/_home.html``."""

from __future__ import annotations

from typing import Any

from core.applications import labels as application_labels
from core.applications.models import ApplicationKind, ApplicationStatus
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.identity.sessions import aware
from core.mail.compose import format_date
from core.pairings.checkin_controllers import upcoming_view
from core.pairings.controllers import hours_view
from core.pairings.dashboard import HomeTandem, ParticipantHome, Step
from core.pairings.messages import ROLE_LABELS, STATE_LABELS

STEP_LABELS = {
    Step.ACCEPT_PROPOSAL: N_("Look at the proposed tandem and accept it (or decline it)."),
    Step.AWAIT_PARTNER: N_("You have accepted. The tandem starts once your partner accepts too."),
    Step.WRITE_GOALS: N_("Agree your goals at your first meeting and write them down."),
    Step.ACCEPT_GOALS: N_("Read the goals your tandem wrote down and accept them."),
    Step.LOG_FIRST_MEETING: N_("Log your first meeting."),
    Step.MEET_AGAIN: N_("You have not logged a meeting for four weeks: arrange the next one."),
    Step.RESUME: N_("Your tandem is paused. Resume it when you are ready to meet again."),
    Step.ANSWER_CHECKIN: N_("Answer the check-in: %(kind)s."),
}
# The same names as checkins/_labels.html's kind_name.
CHECKIN_KINDS = {
    "start": N_("Start check-in"),
    "midpoint": N_("Midpoint check-in"),
    "end": N_("End-of-tandem check-in"),
    "followup_3m": N_("Follow-up after 3 months"),
    "followup_6m": N_("Follow-up after 6 months"),
}


def _tandem_view(tandem: HomeTandem, locale: str) -> dict[str, Any]:
    state = tandem.access.state
    steps = []
    for step in tandem.steps:
        kind = gettext(locale, CHECKIN_KINDS[step.checkin_kind]) if step.checkin_kind else ""
        steps.append(
            {
                "step": step.step.value,
                "text": gettext(locale, STEP_LABELS[step.step], kind=kind),
                "path": step.path,
            }
        )
    return {
        "id": str(tandem.access.pairing.id),
        "path": tandem.path,
        "state": state.value,
        "state_label": gettext(locale, STATE_LABELS[state]),
        "side_label": gettext(locale, ROLE_LABELS[tandem.side.value]),
        "partner": tandem.partner_name,
        "cohort": tandem.cohort.name,
        "hours": hours_view(tandem.minutes, tandem.cohort.expected_hours, locale),
        "steps": steps,
    }


def participant_view(home: ParticipantHome, locale: str) -> dict[str, Any]:
    return {
        "tandems": [_tandem_view(t, locale) for t in home.tandems],
        "upcoming": upcoming_view(home.upcoming, locale),
        "suggestions_path": home.suggestions_path,
        "applications": [
            {
                "programme": own.programme.name,
                "cohort": own.cohort.name,
                "kind": gettext(
                    locale, application_labels.KINDS[ApplicationKind(own.application.kind)]
                ),
                "status": own.application.status,
                "status_label": gettext(
                    locale, application_labels.STATUSES[ApplicationStatus(own.application.status)]
                ),
                "submitted_on": format_date(aware(own.application.created_at), locale),
            }
            for own in home.applications
        ],
    }


__all__ = ["participant_view"]
