"""Sealing small secrets the database keeps for us (operators' TOTP keys), with a key from the
settings, so that whoever reads the table (the runtime role, a backup) does not learn them.

AES-256-GCM (`cryptography`, an authenticated cipher: no home-made construction) with a fresh
96-bit random nonce per value; the key is derived from the setting with HKDF-SHA256, and the
version, key id and context are authenticated as associated data.

A sealed value is ``v1:<key id>:<nonce>:<ciphertext + tag>`` (base64url). The key id names the key
that sealed it, so after a rotation the old keys still open older values (and say they are stale).
The context (e.g. ``user:42``) is authenticated too: a value copied into another row does not open.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
_NONCE_BYTES = 12
_SALT = b"lianluo sealing v1"


class Unsealable(Exception):
    """Not a sealed value, changed, sealed for another context, or under a key we do not have."""


def _hkdf(material: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT, info=info).derive(material)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise Unsealable() from error


@dataclass(frozen=True)
class _Key:
    kid: str
    aead: AESGCM

    @classmethod
    def derive(cls, material: str) -> _Key:
        raw = material.encode()
        return cls(_hkdf(raw, b"key id", 6).hex(), AESGCM(_hkdf(raw, b"encrypt")))

    def associated(self, context: str) -> bytes:
        return f"{VERSION}:{self.kid}:".encode() + context.encode()


class Sealer:
    """Seals with the first key; opens with any of them."""

    def __init__(self, keys: Sequence[str]):
        keys = [k for k in keys if k]
        if not keys:
            raise ValueError("a sealing key is needed")
        self._keys = [_Key.derive(k) for k in keys]

    @staticmethod
    def is_sealed(value: str) -> bool:
        return value.startswith(VERSION + ":")

    def seal(self, plaintext: str, *, context: str) -> str:
        key, nonce = self._keys[0], secrets.token_bytes(_NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, plaintext.encode(), key.associated(context))
        return f"{VERSION}:{key.kid}:{_b64(nonce)}:{_b64(sealed)}"

    def open(self, value: str, *, context: str) -> tuple[str, bool]:
        """The plaintext, and whether it was sealed under an older key (then seal it again)."""
        parts = value.split(":")
        if len(parts) != 4 or parts[0] != VERSION:
            raise Unsealable()
        key = next((k for k in self._keys if k.kid == parts[1]), None)
        nonce, body = _unb64(parts[2]), _unb64(parts[3])
        if key is None or len(nonce) != _NONCE_BYTES:
            raise Unsealable()
        try:
            plaintext = key.aead.decrypt(nonce, body, key.associated(context)).decode()
        except (InvalidTag, UnicodeDecodeError) as error:
            raise Unsealable() from error
        return plaintext, key is not self._keys[0]
