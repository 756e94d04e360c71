"""A programme's eligibility rules, checked against an application and explained.

The rules are the programme's (:class:`~core.programmes.models.Programme`): a minimum
German level, and "only people already in the recognition procedure" — some IQ
programmes take only those. They apply to mentees; mentors have none. The result is
advice for the coordinator, shown on the intake page with the reason for each rule:
the decision stays theirs (a B1 minimum may be waived for someone at A2 who starts a
course next month).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.applications.labels import RECOGNITION
from core.applications.models import Application, ApplicationKind, RecognitionStatus
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.programmes.models import Programme
from core.reference import cefr

# Statuses that mean the recognition procedure has been started (or has ended).
IN_PROCEDURE = frozenset(
    {RecognitionStatus.IN_PROGRESS, RecognitionStatus.PARTIAL, RecognitionStatus.FULL}
)
NO_RULES = N_("This programme sets no eligibility rules.")
MENTORS_NO_RULES = N_("The programme's eligibility rules apply to mentees only.")
GERMAN_MET = N_("German level %(level)s meets the programme's minimum of %(minimum)s.")
GERMAN_BELOW = N_("German level %(level)s is below the programme's minimum of %(minimum)s.")
GERMAN_MISSING = N_("No German level given; the programme asks for at least %(minimum)s.")
RECOGNITION_MET = N_("The recognition procedure has been started (%(status)s).")
RECOGNITION_NOT_MET = N_(
    "The programme takes only people whose recognition procedure has started; "
    "this application says: %(status)s."
)


@dataclass(frozen=True)
class Check:
    rule: str  # "german_level" or "recognition_procedure"
    passed: bool
    message: str


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    checks: tuple[Check, ...]
    note: str = ""  # when no rule applies, why


def check(programme: Programme, application: Application, locale: str) -> Eligibility:
    """Every rule of ``programme`` checked against ``application``, explained in ``locale``."""
    if application.kind is ApplicationKind.MENTOR:
        return Eligibility(True, (), gettext(locale, MENTORS_NO_RULES))
    checks: list[Check] = []
    minimum = programme.min_german_level
    if minimum:
        level = application.german_level
        if level is None:
            message, passed = GERMAN_MISSING, False
        else:
            passed = cefr.at_least(level, minimum)
            message = GERMAN_MET if passed else GERMAN_BELOW
        checks.append(
            Check(
                "german_level",
                passed,
                gettext(locale, message, level=level or "", minimum=minimum),
            )
        )
    if programme.requires_recognition_procedure:
        status = application.recognition_status
        passed = status in IN_PROCEDURE
        label = gettext(locale, RECOGNITION[status]) if status else "-"
        message = RECOGNITION_MET if passed else RECOGNITION_NOT_MET
        checks.append(
            Check("recognition_procedure", passed, gettext(locale, message, status=label))
        )
    if not checks:
        return Eligibility(True, (), gettext(locale, NO_RULES))
    return Eligibility(all(c.passed for c in checks), tuple(checks))
