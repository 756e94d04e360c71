"""E-mail: ``send_mail`` enqueues a mail in the caller's transaction; a job renders it
from the tenant's templates and sends it over SMTP (``TANDEM_SMTP_URL``), or, in
development without one, writes it to ``var/mail/<tenant>/`` for the dev mail viewer.
"""

from core.mail.compose import MailError
from core.mail.delivery import MailNotConfiguredError, configure_mail, deliver_mail, send_mail
from core.mail.smtp import SmtpURLError, parse_smtp_url

__all__ = [
    "MailError",
    "MailNotConfiguredError",
    "SmtpURLError",
    "configure_mail",
    "deliver_mail",
    "parse_smtp_url",
    "send_mail",
]
