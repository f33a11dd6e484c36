"""E-mail over SMTP (the standard library's smtplib, run in a thread so the sweep's loop keeps going).

`Mailer.send` returns the Message-ID. It is made from the outbox row's reference, so every attempt of
one row carries the same Message-ID (mail systems that keep ids see a resend as the same message).
Errors: a 5xx reply (to MAIL, RCPT or DATA, or refused credentials) is `PermanentSendError`; a 4xx
reply, a timeout or a connection failure is `TransientSendError`.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from app.notify.sms import PermanentSendError, TransientSendError

DEFAULT_TIMEOUT = 10.0


def _code_error(code: int, what: str):
    return (PermanentSendError if 500 <= code < 600 else TransientSendError)(f"SMTP {code} ({what})")


class Mailer:
    def __init__(self, host: str, port: int, sender: str, user: str | None = None, password: str | None = None,
                 starttls: bool = False, timeout: float = DEFAULT_TIMEOUT):
        self.host = host
        self.port = int(port)
        self.sender = sender
        self.user = user or None
        self.password = password or None
        self.starttls = starttls
        self.timeout = timeout

    def message_id(self, reference: str) -> str:
        domain = self.sender.rpartition("@")[2] or "lianluo.local"
        return f"<{reference}@{domain}>"

    def _message(self, to: str, subject: str, text: str, reference: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = self.message_id(reference)
        message["X-Lianluo-Reference"] = reference
        message.set_content(text, charset="utf-8")
        return message

    def _send_sync(self, message: EmailMessage, to: str) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message, from_addr=self.sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()), (450, b""))[0]
            raise _code_error(code, "recipient refused") from None
        except smtplib.SMTPSenderRefused as exc:
            raise _code_error(exc.smtp_code, "sender refused") from None
        except smtplib.SMTPDataError as exc:
            raise _code_error(exc.smtp_code, "message refused") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentSendError(f"SMTP {exc.smtp_code} (sign-in refused)") from None
        except smtplib.SMTPResponseException as exc:
            raise _code_error(exc.smtp_code, "refused") from None
        except (smtplib.SMTPException, OSError) as exc:  # timeouts, refused connections, dropped links
            raise TransientSendError(f"SMTP connection: {type(exc).__name__}") from None

    async def send(self, *, to: str, subject: str, text: str, reference: str) -> str:
        message = self._message(to, subject, text, reference)
        await asyncio.to_thread(self._send_sync, message, to)
        return message["Message-ID"]

    async def aclose(self) -> None:
        return None
