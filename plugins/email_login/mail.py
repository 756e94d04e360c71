"""The job that mails a sign-in link: it makes the token, so the outbox never holds it.

The request for a link writes the link row and this job in one transaction (through
the outbox, as every mail). The job then, inside its own claim transaction, makes
the token, stores its hash on the row and hands the mail to core's mail delivery
(same templates, transport and at-most-once rules as every other mail). If sending
fails, the hash rolls back with the claim and the retry makes a new token; the
link in a mail that was never sent cannot work.
"""

from __future__ import annotations

import logging
import uuid

from core.db.base import utcnow
from core.jobs import JobContext, tenant_actor
from core.mail import deliver_mail
from core.web.plugin_routes import plugin_path
from plugins.email_login.links import issue_token
from plugins.email_login.settings import PLUGIN_ID

log = logging.getLogger(__name__)
MAIL_TEMPLATE = "email_login/link"


def link_path(token: str) -> str:
    return f"{plugin_path(PLUGIN_ID)}/link/{token}"


@tenant_actor(name="email_login.send_link")
async def send_link(
    job: JobContext,
    *,
    link_id: str,
    to: str,
    locale: str,
    base_url: str,
    minutes: int,
    expires_at: str,
) -> None:
    if PLUGIN_ID not in job.tenant.enabled_plugins:
        # Switched off since the request: its templates are gone, and so is the way in.
        log.info(
            "sign-in link %s not sent: %s is disabled for %s", link_id, PLUGIN_ID, job.tenant.slug
        )
        return
    token = await issue_token(job.session, uuid.UUID(link_id), utcnow())
    if token is None:
        log.info("sign-in link %s not sent: it expired before the job ran", link_id)
        return
    # deliver_mail's body, called within this job: rendering, checks and transport
    # are core's, and a mail that can never be sent completes this job unsent.
    await deliver_mail.body(
        job,
        to=to,
        template=MAIL_TEMPLATE,
        context={
            "link": base_url + link_path(token),
            "minutes": minutes,
            "expires_at": expires_at,
        },
        locale=locale,
    )
