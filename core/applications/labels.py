"""How the applications' enums are named on pages, in mails and in the API's ``*_label`` fields."""

from __future__ import annotations

from typing import Any

from core.applications.models import (
    ApplicationKind,
    ApplicationStatus,
    Qualification,
    RecognitionStatus,
)
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.reference import availability, cefr

KINDS: dict[str, str] = {
    ApplicationKind.MENTEE: N_("Mentee"),
    ApplicationKind.MENTOR: N_("Mentor"),
}
STATUSES: dict[str, str] = {
    ApplicationStatus.SUBMITTED: N_("Submitted"),
    ApplicationStatus.IN_REVIEW: N_("In review"),
    ApplicationStatus.ACCEPTED: N_("Accepted"),
    ApplicationStatus.WAITLISTED: N_("Waiting list"),
    ApplicationStatus.REJECTED: N_("Rejected"),
    ApplicationStatus.WITHDRAWN: N_("Withdrawn"),
}
RECOGNITION: dict[str, str] = {
    RecognitionStatus.NOT_STARTED: N_("Not started yet"),
    RecognitionStatus.IN_PROGRESS: N_("In progress"),
    RecognitionStatus.PARTIAL: N_("Partly recognised"),
    RecognitionStatus.FULL: N_("Fully recognised"),
    RecognitionStatus.NOT_REQUIRED: N_("Not required for my occupation"),
}
QUALIFICATIONS: dict[str, str] = {
    Qualification.SECONDARY: N_("Secondary school"),
    Qualification.VOCATIONAL: N_("Vocational training"),
    Qualification.BACHELOR: N_("Bachelor's degree or equivalent"),
    Qualification.MASTER: N_("Master's degree or equivalent"),
    Qualification.DOCTORATE: N_("Doctorate"),
}
CEFR: dict[str, str] = {
    "A1": N_("A1 (beginner)"),
    "A2": N_("A2 (elementary)"),
    "B1": N_("B1 (intermediate)"),
    "B2": N_("B2 (upper intermediate)"),
    "C1": N_("C1 (advanced)"),
    "C2": N_("C2 (proficient)"),
}
assert tuple(CEFR) == cefr.LEVELS


def translated(locale: str) -> dict[str, Any]:
    """Every label table in ``locale``, for templates (``labels.statuses["accepted"]``)."""

    def table(source: dict[str, str]) -> dict[str, str]:
        return {str(key): gettext(locale, value) for key, value in source.items()}

    return {
        "kinds": table(KINDS),
        "statuses": table(STATUSES),
        "recognition": table(RECOGNITION),
        "qualifications": table(QUALIFICATIONS),
        "cefr": table(CEFR),
        "availability": {slot: availability.label(slot, locale) for slot in availability.SLOTS},
    }
