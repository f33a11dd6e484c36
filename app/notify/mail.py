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
TLS_MODES = ("implicit", "starttls", "none")


def _code_error(code: int, what: str):
    return (PermanentSendError if 500 <= code < 600 else TransientSendError)(f"SMTP {code} ({what})")


class Mailer:
    def __init__(self, host: str, port: int, sender: str, user: str | None = None, password: str | None = None,
                 starttls: bool = False, timeout: float = DEFAULT_TIMEOUT, tls: str | None = None,
                 ssl_context: ssl.SSLContext | None = None):
        self.host = host
        self.port = int(port)
        self.sender = sender
        self.user = user or None
        self.password = password or None
        # implicit: TLS from the first byte (port 465; what many clouds leave open, with 25 blocked);
        # starttls: plain, then upgraded; none. `starttls=True` is the older way to ask for starttls.
        # Unsaid: implicit on 465 (nothing else is spoken there), as LIANLUO_SMTP_TLS's default.
        self.tls = tls or ("starttls" if starttls else "implicit" if self.port == 465 else "none")
        if self.tls not in TLS_MODES:
            raise ValueError(f"SMTP TLS must be one of {', '.join(TLS_MODES)}")
        self.starttls = self.tls == "starttls"
        self.timeout = timeout
        self.ssl_context = ssl_context  # None: the system's CAs (SSL_CERT_FILE to name others)

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
            with self._connect() as smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=self._context())
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

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        """The connection, already encrypted for implicit TLS (the certificate is checked either way)."""
        if self.tls == "implicit":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    async def send(self, *, to: str, subject: str, text: str, reference: str) -> str:
        message = self._message(to, subject, text, reference)
        await asyncio.to_thread(self._send_sync, message, to)
        return message["Message-ID"]

    async def aclose(self) -> None:
        return None
