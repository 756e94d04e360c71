"""The daily check of every tenant's tandems, as a periodic job (``core.jobs.schedule``).

Once a day, per active tenant and in that tenant's session (one transaction):

1. create the check-ins that have fallen due (:func:`core.pairings.checkins.create_due_checkins`);
2. remind respondents of unanswered ones (:func:`core.pairings.checkins.send_reminders`);
3. flag tandems at risk and clear recovered ones, telling coordinators once
   (:func:`core.pairings.at_risk.refresh_at_risk`).

Each step is safe to repeat: a second run the same day creates, sends and flags
nothing. :func:`run_daily_checks` takes the time as an argument, so tests and an
operator's one-off run can call it directly; the job passes the current time.

Mails need absolute links but a job has no request: :func:`site_url` builds the
tenant's address from its first custom domain, or ``<slug>.<base domain>``, with
https in production (and the port outside it, as ``make run`` serves on 8000).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.base import utcnow
from core.jobs import JobContext
from core.jobs.schedule import periodic
from core.pairings.at_risk import refresh_at_risk
from core.pairings.checkins import create_due_checkins, send_reminders
from core.settings import Settings, get_settings
from core.tenancy.snapshot import TenantSnapshot

log = logging.getLogger(__name__)

TASK_NAME = "core.pairings.daily_checks"


def site_url(tenant: TenantSnapshot, settings: Settings) -> str:
    """The tenant's address for links in mails sent by jobs (no trailing slash)."""
    host = tenant.domains[0] if tenant.domains else f"{tenant.slug}.{settings.base_domain}"
    if settings.env == "production":
        return f"https://{host}"
    port = "" if settings.port == 80 else f":{settings.port}"
    return f"http://{host}{port}"


@dataclass(frozen=True)
class DailyReport:
    created: int
    reminded: int
    flagged: int
    cleared: int


async def run_daily_checks(session: AsyncSession, now: datetime, *, base_url: str) -> DailyReport:
    """Create due check-ins, send due reminders, refresh the at-risk flags (see above)."""
    today = now.date()
    created = await create_due_checkins(session, today)
    reminded = await send_reminders(session, now, base_url=base_url)
    risk = await refresh_at_risk(session, today, base_url=base_url)
    return DailyReport(created, reminded, len(risk.flagged), len(risk.cleared))


@periodic(TASK_NAME, every=timedelta(days=1), scope="tenant")
async def daily_checks_job(job: JobContext) -> None:
    """Create due check-ins, remind respondents, flag tandems with no meeting for 4 weeks."""
    report = await run_daily_checks(
        job.session, utcnow(), base_url=site_url(job.tenant, get_settings())
    )
    log.info(
        "daily checks for %s: %d check-in(s) created, %d reminder(s), "
        "%d tandem(s) flagged at risk, %d cleared",
        job.tenant.slug,
        report.created,
        report.reminded,
        report.flagged,
        report.cleared,
    )
