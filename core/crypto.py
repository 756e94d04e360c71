"""Encryption of small secrets at rest (identity providers' client secrets), with key rotation.

* **Cipher.** AES-256-GCM from ``cryptography``: a fresh random 96-bit nonce per
  message, authenticated, so a changed byte fails to decrypt instead of giving a
  different secret.
* **Context.** Each call names what the secret belongs to (for a client secret: the
  purpose, the tenant's id and the provider's id). The context is authenticated as
  GCM's associated data but not stored, so a ciphertext copied into another row or
  another tenant does not decrypt there.
* **Keys.** ``TANDEM_ENCRYPTION_KEYS`` is a comma-separated list of ``keyid:base64key``
  entries (32-byte keys). The first encrypts, every one decrypts; a ciphertext names
  its key (``v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``). To rotate, put a
  new key first, run ``tandem secrets rotate``, then drop the old key.
* **Without keys.** Outside production a development key is derived from
  ``TANDEM_SECRET_KEY`` (key id ``dev-insecure``: it protects nothing, anyone with the
  development secret key has it). In production nothing is encrypted or decrypted
  without configured keys: :class:`EncryptionKeysMissing` says what to set.

Error messages name keys by id and never include key material or plaintext.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from core.settings import Settings

SETTING = "TANDEM_ENCRYPTION_KEYS"
FORMAT_VERSION = "v1"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
DEV_KEY_ID = "dev-insecure"
_DEV_KEY_INFO = b"tandem development encryption key v1"
NEW_KEY_HINT = "tandem secrets new-key --id k1"


class SecretBoxError(Exception):
    """Something stops a secret from being encrypted or decrypted."""


class EncryptionKeysMissing(SecretBoxError):
    """Production without ``TANDEM_ENCRYPTION_KEYS``."""


class DecryptionError(SecretBoxError):
    """Malformed, altered, moved, or encrypted with a key this keyring does not hold."""


@dataclass(frozen=True)
class EncryptionKey:
    id: str
    material: bytes = field(repr=False)


def parse_keys(text: str) -> tuple[EncryptionKey, ...]:
    """The keys of a ``TANDEM_ENCRYPTION_KEYS`` value; ValueError names the bad entry."""
    keys: list[EncryptionKey] = []
    entries = [entry.strip() for entry in text.split(",")]
    for number, entry in enumerate(entries, start=1):
        key_id, colon, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not colon or not KEY_ID_PATTERN.match(key_id):
            raise ValueError(
                f"{SETTING}: entry {number} must be 'keyid:base64key' with a key id of letters, "
                "digits, '.', '_' or '-' (at most 32)"
            )
        if key_id == DEV_KEY_ID:
            raise ValueError(f"{SETTING}: the key id {DEV_KEY_ID!r} is reserved for development")
        if any(key.id == key_id for key in keys):
            raise ValueError(f"{SETTING}: the key id {key_id!r} appears twice")
        material = _decode_key(encoded.strip())
        if material is None:
            raise ValueError(
                f"{SETTING}: key {key_id!r} must be {KEY_BYTES} random bytes in base64 "
                f"(for example: {NEW_KEY_HINT})"
            )
        keys.append(EncryptionKey(key_id, material))
    return tuple(keys)


def _decode_key(encoded: str) -> bytes | None:
    # Standard and URL-safe base64 are both accepted, with or without padding.
    normalised = encoded.replace("-", "+").replace("_", "/")
    normalised += "=" * (-len(normalised) % 4)
    try:
        material = base64.b64decode(normalised, validate=True)
    except (binascii.Error, ValueError):
        return None
    return material if len(material) == KEY_BYTES else None


def new_key_entry(key_id: str) -> str:
    """A fresh ``keyid:base64key`` entry for ``TANDEM_ENCRYPTION_KEYS``."""
    if not KEY_ID_PATTERN.match(key_id) or key_id == DEV_KEY_ID:
        raise ValueError(f"unusable key id {key_id!r}")
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode('ascii')}"


def development_key(secret_key: str) -> EncryptionKey:
    """The key used outside production without configured keys (see the module doc)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_DEV_KEY_INFO)
    return EncryptionKey(DEV_KEY_ID, hkdf.derive(secret_key.encode("utf-8")))


def _associated_data(context: Sequence[str]) -> bytes:
    # JSON keeps the parts apart unambiguously: ("a|b", "c") never equals ("a", "b|c").
    return json.dumps([FORMAT_VERSION, *context], separators=(",", ":")).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Keyring:
    """The keys one process encrypts and decrypts with (see the module doc)."""

    def __init__(self, keys: Sequence[EncryptionKey], *, missing: str | None = None) -> None:
        self._keys = {key.id: key for key in keys}
        self._current = keys[0] if keys else None
        # Why there are no keys, for the error an operation without them raises.
        self._missing = missing or f"{SETTING} holds no keys"

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        if settings.encryption_keys.strip():
            return cls(parse_keys(settings.encryption_keys))
        if settings.env == "production":
            return cls(
                [],
                missing=f"{SETTING} must be set in production to store or read encrypted "
                f"secrets (for example: {NEW_KEY_HINT})",
            )
        return cls([development_key(settings.secret_key)])

    @property
    def configured(self) -> bool:
        """Whether anything can be encrypted (False in production without keys)."""
        return self._current is not None

    @property
    def current_key_id(self) -> str:
        return self._require_current().id

    def _require_current(self) -> EncryptionKey:
        if self._current is None:
            raise EncryptionKeysMissing(self._missing)
        return self._current

    def encrypt(self, plaintext: str, context: Sequence[str]) -> str:
        key = self._require_current()
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key.material).encrypt(
            nonce, plaintext.encode("utf-8"), _associated_data(context)
        )
        return f"{FORMAT_VERSION}:{key.id}:{_b64(nonce + sealed)}"

    def decrypt(self, token: str, context: Sequence[str]) -> str:
        if not self._keys:
            raise EncryptionKeysMissing(self._missing)
        key_id, payload = self._split(token)
        key = self._keys.get(key_id)
        if key is None:
            raise DecryptionError(
                f"encrypted with key {key_id!r}, which {SETTING} does not hold "
                f"(have: {', '.join(self._keys)})"
            )
        nonce, sealed = payload[:NONCE_BYTES], payload[NONCE_BYTES:]
        try:
            plaintext = AESGCM(key.material).decrypt(nonce, sealed, _associated_data(context))
        except InvalidTag:
            raise DecryptionError(
                f"does not decrypt with key {key_id!r}: altered, copied from another record, "
                "or the key changed"
            ) from None
        return plaintext.decode("utf-8")

    def key_id_of(self, token: str) -> str:
        return self._split(token)[0]

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is encrypted with the key new secrets are encrypted with."""
        return self._current is not None and self.key_id_of(token) == self._current.id

    @staticmethod
    def _split(token: str) -> tuple[str, bytes]:
        version, _, rest = token.partition(":")
        key_id, _, encoded = rest.partition(":")
        if version != FORMAT_VERSION or not KEY_ID_PATTERN.match(key_id) or not encoded:
            raise DecryptionError("not a ciphertext of this format")
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise DecryptionError("not a ciphertext of this format") from None
        if len(payload) < NONCE_BYTES + 16:  # nonce and GCM tag at the least
            raise DecryptionError("the ciphertext is truncated")
        return key_id, payload


__all__ = [
    "DEV_KEY_ID",
    "DecryptionError",
    "EncryptionKey",
    "EncryptionKeysMissing",
    "Keyring",
    "SecretBoxError",
    "development_key",
    "new_key_entry",
    "parse_keys",
]
