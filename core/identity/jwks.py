"""A provider's signing keys (its JSON Web Key Set), fetched, cached and looked up.

Providers rotate keys: a token may name a key (``kid``) we have not seen yet. We then
fetch the set again, once, and give up if the key is still missing. A forced refetch
is also rate-limited per set, so a stream of forged tokens with random ``kid`` values
cannot make us hammer the provider.

This module knows nothing about OpenID Connect; :mod:`core.identity.oidc` turns its
exceptions into typed login errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey, import_key

# Which key type can verify which signature algorithm. Symmetric algorithms (HS*)
# are absent on purpose: a provider's public key set never verifies them.
_KEY_CLASS_FOR_ALG: dict[str, type[Key]] = {
    **{f"RS{bits}": RSAKey for bits in (256, 384, 512)},
    **{f"PS{bits}": RSAKey for bits in (256, 384, 512)},
    "ES256": ECKey,
    "ES384": ECKey,
    "ES512": ECKey,
    "EdDSA": OKPKey,
    "Ed25519": OKPKey,
}
SIGNATURE_ALGORITHMS = frozenset(_KEY_CLASS_FOR_ALG)


class KeySetError(Exception):
    """The key set could not be fetched or read."""


class UnknownKeyError(Exception):
    """No key in the (refetched) set can verify this token."""


@dataclass(frozen=True)
class _CachedSet:
    keys: tuple[Key, ...]
    fetched_at: float


def parse_key_set(document: object) -> tuple[Key, ...]:
    """Public signing keys of a JWKS document; keys we cannot use are skipped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeySetError("the key set is not a JSON object with a 'keys' list")
    keys: list[Key] = []
    for entry in document["keys"]:
        # Encryption keys, symmetric keys and unknown key types are not for us; a
        # provider may publish them next to its signing keys.
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") not in ("RSA", "EC", "OKP"):
            continue
        # A set must hold public keys only; drop private parts should a provider leak them.
        public = {k: v for k, v in entry.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
        try:
            keys.append(import_key(dict(public)))
        except (JoseError, ValueError, TypeError):
            continue
    return tuple(keys)


def _usable(key: Key, alg: str, kid: str | None) -> bool:
    if kid is not None and key.kid != kid:
        return False
    key_alg = key.get("alg")
    if key_alg is not None and key_alg != alg:
        return False
    return isinstance(key, _KEY_CLASS_FOR_ALG[alg])


def select_key(keys: tuple[Key, ...], alg: str, kid: str | None) -> Key | None:
    """The one key that may verify a token signed with ``alg`` (and naming ``kid``).

    Without a ``kid`` the choice must be unambiguous (OpenID Connect Core 10.1: a
    provider with several keys must name the key), otherwise no key is chosen.
    """
    candidates = [key for key in keys if _usable(key, alg, kid)]
    return candidates[0] if len(candidates) == 1 else None


class KeySetCache:
    """Key sets by URL, kept for ``ttl`` seconds, refetched early on an unknown key."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        ttl: float = 3600.0,
        min_refetch_interval: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._ttl = ttl
        self._min_refetch_interval = min_refetch_interval
        self._clock = clock
        self._sets: dict[str, _CachedSet] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_forced: dict[str, float] = {}

    async def key_for(self, jwks_uri: str, alg: str, kid: str | None) -> Key:
        """The key for a token header; refetches the set at most once, then fails."""
        if alg not in _KEY_CLASS_FOR_ALG:
            raise UnknownKeyError(f"no key type verifies {alg!r}")
        cached, fetched_now = await self._get(jwks_uri)
        key = select_key(cached.keys, alg, kid)
        # A set fetched during this very call is as fresh as a refetch would be.
        if key is None and not fetched_now:
            refreshed = await self._refetch(jwks_uri, cached)
            key = select_key(refreshed.keys, alg, kid)
        if key is None:
            raise UnknownKeyError(f"no signing key {kid!r} for {alg} in {jwks_uri}")
        return key

    async def _get(self, jwks_uri: str) -> tuple[_CachedSet, bool]:
        async with self._locks.setdefault(jwks_uri, asyncio.Lock()):
            current = self._sets.get(jwks_uri)
            now = self._clock()
            if current is not None and now - current.fetched_at < self._ttl:
                return current, False
            fresh = self._sets[jwks_uri] = _CachedSet(await self._fetch(jwks_uri), now)
            return fresh, True

    async def _refetch(self, jwks_uri: str, stale: _CachedSet) -> _CachedSet:
        async with self._locks.setdefault(jwks_uri, asyncio.Lock()):
            current = self._sets.get(jwks_uri, stale)
            now = self._clock()
            # Someone else refetched while we waited for the lock, or a forced
            # refetch happened moments ago: use what we have.
            last = self._last_forced.get(jwks_uri)
            if current is not stale or (
                last is not None and now - last < self._min_refetch_interval
            ):
                return current
            self._last_forced[jwks_uri] = now
            fresh = self._sets[jwks_uri] = _CachedSet(await self._fetch(jwks_uri), now)
            return fresh

    async def _fetch(self, jwks_uri: str) -> tuple[Key, ...]:
        try:
            response = await self._http.get(jwks_uri, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise KeySetError(f"cannot reach {jwks_uri}: {error.__class__.__name__}") from error
        if response.status_code != 200:
            raise KeySetError(f"{jwks_uri} answered HTTP {response.status_code}")
        try:
            document: Any = response.json()
        except ValueError as error:
            raise KeySetError(f"{jwks_uri} did not return JSON") from error
        return parse_key_set(document)
