"""core.crypto: AES-256-GCM bound to a context, a keyring for rotation, the settings guard."""

from __future__ import annotations

import base64
import os
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from core.crypto import (
    DEV_KEY_ID,
    DecryptionError,
    EncryptionKey,
    EncryptionKeysMissing,
    Keyring,
    development_key,
    new_key_entry,
    parse_keys,
)
from core.identity.oidc import client_secret_context
from core.settings import ROOT, Settings

TENANT_A, TENANT_B = uuid.uuid4(), uuid.uuid4()
CONTEXT = client_secret_context(TENANT_A, "city-sso")
SECRET = "Kl4r:t€xt/+ geheim"


def key(key_id: str) -> EncryptionKey:
    return EncryptionKey(key_id, os.urandom(32))


def entry(k: EncryptionKey) -> str:
    return f"{k.id}:{base64.b64encode(k.material).decode()}"


def settings(**values: object) -> Settings:
    return Settings(root=ROOT, **values)  # type: ignore[arg-type]


STRONG = "x" * 48


# --- encryption -----------------------------------------------------------------------


def test_a_secret_round_trips_and_each_ciphertext_is_different() -> None:
    ring = Keyring([key("k1")])
    first, second = ring.encrypt(SECRET, CONTEXT), ring.encrypt(SECRET, CONTEXT)
    assert first != second, "a fresh nonce per message"
    assert first.startswith("v1:k1:") and SECRET not in first
    assert ring.decrypt(first, CONTEXT) == ring.decrypt(second, CONTEXT) == SECRET


@given(st.text(max_size=300), st.text(min_size=1, max_size=63))
def test_any_text_round_trips_in_any_context(secret: str, provider_id: str) -> None:
    ring = Keyring([EncryptionKey("k1", b"\x01" * 32)])
    context = client_secret_context(TENANT_A, provider_id)
    assert ring.decrypt(ring.encrypt(secret, context), context) == secret


@pytest.mark.parametrize(
    "context",
    [
        client_secret_context(TENANT_B, "city-sso"),  # copied to another tenant
        client_secret_context(TENANT_A, "entra"),  # copied to another provider
        ("another.purpose", str(TENANT_A), "city-sso"),
        (str(TENANT_A), "city-sso"),
    ],
    ids=["other-tenant", "other-provider", "other-purpose", "shorter"],
)
def test_a_ciphertext_moved_elsewhere_does_not_decrypt(context: tuple[str, ...]) -> None:
    ring = Keyring([key("k1")])
    token = ring.encrypt(SECRET, CONTEXT)
    with pytest.raises(DecryptionError, match="copied from another record") as caught:
        ring.decrypt(token, context)
    assert SECRET not in str(caught.value)


def test_the_context_parts_cannot_be_shifted_into_each_other() -> None:
    ring = Keyring([key("k1")])
    token = ring.encrypt(SECRET, ("a|b", "c"))
    with pytest.raises(DecryptionError):
        ring.decrypt(token, ("a", "b|c"))


def test_a_wrong_key_with_the_same_id_fails_cleanly() -> None:
    token = Keyring([key("k1")]).encrypt(SECRET, CONTEXT)
    with pytest.raises(DecryptionError, match="does not decrypt with key 'k1'"):
        Keyring([key("k1")]).decrypt(token, CONTEXT)


def test_a_key_that_is_gone_is_named() -> None:
    token = Keyring([key("old")]).encrypt(SECRET, CONTEXT)
    with pytest.raises(DecryptionError, match="key 'old', which TANDEM_ENCRYPTION_KEYS does not"):
        Keyring([key("new")]).decrypt(token, CONTEXT)


def _flip(token: str, index: int) -> str:
    version, key_id, payload = token.split(":")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[index] ^= 0x01
    return f"{version}:{key_id}:{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


@pytest.mark.parametrize("index", [0, 11, 12, -1], ids=["nonce", "nonce-end", "body", "tag"])
def test_a_tampered_ciphertext_fails(index: int) -> None:
    ring = Keyring([key("k1")])
    token = ring.encrypt(SECRET, CONTEXT)
    with pytest.raises(DecryptionError):
        ring.decrypt(_flip(token, index), CONTEXT)


@pytest.mark.parametrize(
    "token",
    ["", "plain text", "v2:k1:AAAA", "v1::AAAA", "v1:k1:", "v1:k1:AAAA", "v1:k 1:" + "A" * 40],
)
def test_malformed_ciphertexts_fail_cleanly(token: str) -> None:
    with pytest.raises(DecryptionError):
        Keyring([key("k1")]).decrypt(token, CONTEXT)


# --- rotation -------------------------------------------------------------------------


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = key("k1"), key("k2")
    before = Keyring([old]).encrypt(SECRET, CONTEXT)
    rotated = Keyring([new, old])
    assert rotated.current_key_id == "k2"
    assert rotated.decrypt(before, CONTEXT) == SECRET
    assert not rotated.is_current(before)
    after = rotated.encrypt(SECRET, CONTEXT)
    assert rotated.key_id_of(after) == "k2" and rotated.is_current(after)
    # Once everything is re-encrypted the old key can go.
    assert Keyring([new]).decrypt(after, CONTEXT) == SECRET


# --- keys from the settings -----------------------------------------------------------


def test_keys_are_read_from_the_setting_first_one_first() -> None:
    k1, k2 = key("k1"), key("k2")
    ring = Keyring.from_settings(settings(encryption_keys=f" {entry(k2)} , {entry(k1)} "))
    assert ring.current_key_id == "k2"
    assert ring.decrypt(Keyring([k1]).encrypt(SECRET, CONTEXT), CONTEXT) == SECRET


def test_url_safe_and_unpadded_keys_are_accepted() -> None:
    material = b"\xfb\xff" * 16
    encoded = base64.urlsafe_b64encode(material).decode().rstrip("=")
    assert parse_keys(f"k1:{encoded}") == (EncryptionKey("k1", material),)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("no-colon", "entry 1 must be 'keyid:base64key'"),
        (f"k1:{base64.b64encode(b'x' * 32).decode()},:abc", "entry 2 must be"),
        ("bad id!:AAAA", "entry 1 must be"),
        (f"k1:{base64.b64encode(b'short').decode()}", "key 'k1' must be 32 random bytes"),
        ("k1:not base64 at all!!", "key 'k1' must be 32 random bytes"),
        (
            f"k1:{base64.b64encode(b'a' * 32).decode()},k1:{base64.b64encode(b'b' * 32).decode()}",
            "the key id 'k1' appears twice",
        ),
        (f"{DEV_KEY_ID}:{base64.b64encode(b'a' * 32).decode()}", "reserved for development"),
    ],
)
def test_a_bad_setting_stops_the_start_with_a_clear_message(value: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        settings(encryption_keys=value)
    text = str(caught.value)
    assert "TANDEM_ENCRYPTION_KEYS" in text and problem in text
    # Neither the key material nor anything else from the input is echoed.
    assert "YWFh" not in text and "input_value" not in text


def test_development_derives_a_marked_key_from_the_secret_key() -> None:
    ring = Keyring.from_settings(settings(env="development"))
    assert ring.current_key_id == DEV_KEY_ID == "dev-insecure"
    token = ring.encrypt(SECRET, CONTEXT)
    # The same secret key gives the same key (restarts keep working) …
    assert Keyring.from_settings(settings(env="test")).decrypt(token, CONTEXT) == SECRET
    # … another secret key another one.
    other = Keyring.from_settings(settings(env="development", secret_key="y" * 40))
    with pytest.raises(DecryptionError):
        other.decrypt(token, CONTEXT)
    assert development_key("a").material != development_key("b").material


def test_production_without_keys_refuses_to_encrypt_or_decrypt() -> None:
    ring = Keyring.from_settings(settings(env="production", secret_key=STRONG))
    assert not ring.configured
    token = Keyring([key("k1")]).encrypt(SECRET, CONTEXT)
    for attempt in (lambda: ring.encrypt(SECRET, CONTEXT), lambda: ring.decrypt(token, CONTEXT)):
        with pytest.raises(EncryptionKeysMissing, match="TANDEM_ENCRYPTION_KEYS must be set"):
            attempt()


def test_production_with_keys_does_not_use_the_development_key() -> None:
    k1 = key("k1")
    ring = Keyring.from_settings(
        settings(env="production", secret_key=STRONG, encryption_keys=entry(k1))
    )
    assert ring.current_key_id == "k1"
    dev_token = Keyring([development_key(STRONG)]).encrypt(SECRET, CONTEXT)
    with pytest.raises(DecryptionError, match="dev-insecure"):
        ring.decrypt(dev_token, CONTEXT)


def test_new_key_entries_are_valid_settings() -> None:
    (parsed,) = parse_keys(new_key_entry("k7"))
    assert parsed.id == "k7" and len(parsed.material) == 32
    assert new_key_entry("k7") != new_key_entry("k7")
    with pytest.raises(ValueError):
        new_key_entry(DEV_KEY_ID)


def test_keys_do_not_show_in_reprs() -> None:
    k1 = key("k1")
    assert base64.b64encode(k1.material).decode() not in repr(k1)
    assert entry(k1) not in repr(settings(encryption_keys=entry(k1)))
