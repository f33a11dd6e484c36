"""SMTP over TLS against a local aiosmtpd server with a certificate made here: implicit TLS (port 465,
what clouds that block port 25 expect) and STARTTLS; the certificate is checked either way."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.core.settings import load_settings
from app.notify.mail import Mailer
from app.notify.sms import TransientSendError
from app.notify.sweep import channels_from_settings
from tests.notify.conftest import MailServer, _Collector, free_port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cert file, key file, PEM text)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem", pem.decode()


def _server_context(certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate[0], certificate[1])
    return context


def _trusting(certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=certificate[2])


@pytest.fixture
def tls_server(certificate):
    """Implicit TLS: the server speaks TLS from the first byte (smtps, port 465)."""
    from aiosmtpd.controller import Controller

    server = MailServer(host="127.0.0.1", port=free_port())
    controller = Controller(_Collector(server), hostname="127.0.0.1", port=server.port,
                            ssl_context=_server_context(certificate))
    controller.start()
    yield server
    controller.stop()


@pytest.fixture
def starttls_server(certificate):
    """Plain at first; refuses mail until the client has upgraded with STARTTLS."""
    from aiosmtpd.controller import Controller

    server = MailServer(host="127.0.0.1", port=free_port())
    controller = Controller(_Collector(server), hostname="127.0.0.1", port=server.port,
                            tls_context=_server_context(certificate), require_starttls=True)
    controller.start()
    yield server
    controller.stop()


async def _send(mailer: Mailer) -> str:
    return await mailer.send(to="zhang@example.cn", subject="活动提醒", text="周五上午九点，东街联络站。",
                             reference="3-17")


async def test_implicit_tls_delivers(tls_server, certificate):
    mailer = Mailer(tls_server.host, tls_server.port, "lianluo@santai.example.cn", tls="implicit", timeout=5,
                    ssl_context=_trusting(certificate))
    assert await _send(mailer) == "<3-17@santai.example.cn>"
    [got] = tls_server.messages
    assert got["Subject"] == "活动提醒" and got.get_content().strip() == "周五上午九点，东街联络站。"


async def test_a_plain_connection_to_an_implicit_tls_port_fails_and_is_retried(tls_server):
    with pytest.raises(TransientSendError):
        await _send(Mailer(tls_server.host, tls_server.port, "a@b.cn", tls="none", timeout=3))
    assert tls_server.messages == []


async def test_an_untrusted_certificate_is_refused(tls_server):
    # the system's CAs do not know the test certificate: nothing is sent to an impostor
    with pytest.raises(TransientSendError):
        await _send(Mailer(tls_server.host, tls_server.port, "a@b.cn", tls="implicit", timeout=3))
    assert tls_server.messages == []


async def test_starttls_delivers(starttls_server, certificate):
    mailer = Mailer(starttls_server.host, starttls_server.port, "lianluo@santai.example.cn", tls="starttls",
                    timeout=5, ssl_context=_trusting(certificate))
    await _send(mailer)
    assert [m["Subject"] for m in starttls_server.messages] == ["活动提醒"]
    # the older flag means the same
    await _send(Mailer(starttls_server.host, starttls_server.port, "a@b.cn", starttls=True, timeout=5,
                       ssl_context=_trusting(certificate)))
    assert len(starttls_server.messages) == 2


async def test_the_worker_uses_implicit_tls_on_port_465_or_when_told(tls_server, certificate, monkeypatch):
    monkeypatch.setenv("LIANLUO_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LIANLUO_SMTP_PORT", "465")
    assert channels_from_settings(load_settings()).mail.tls == "implicit"
    monkeypatch.setenv("LIANLUO_SMTP_PORT", str(tls_server.port))
    monkeypatch.setenv("LIANLUO_SMTP_TLS", "implicit")
    mail = channels_from_settings(load_settings()).mail
    assert mail.tls == "implicit"
    mail.ssl_context = _trusting(certificate)
    await _send(mail)
    assert len(tls_server.messages) == 1
    monkeypatch.setenv("LIANLUO_SMTP_TLS", "sometimes")
    with pytest.raises(ValueError, match="LIANLUO_SMTP_TLS"):
        load_settings()
