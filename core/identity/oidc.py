"""The OpenID Connect relying party: authorization code flow with PKCE, state and nonce.

Independent of web routes and of the database. The web layer

1. builds a :class:`ProviderConfig` from a tenant's ``IdentityProvider`` row
   (:func:`config_from_record`),
2. calls :meth:`RelyingParty.begin_login`, stores the returned :class:`LoginAttempt`
   server-side and redirects the browser to the authorization URL,
3. on the callback calls :meth:`RelyingParty.complete_login` with the query
   parameters and gets a :class:`VerifiedIdentity` (issuer, subject, claims) or an
   :class:`OIDCError` whose ``code`` it can translate into a page.

Validation follows OpenID Connect Core 1.0 §3.1.3.7 (ID token), RFC 7636 (PKCE),
RFC 6749 §10.12 (state) and RFC 9207 (``iss`` in the authorization response). The
JOSE work is done by joserfc, the library authlib itself now builds on.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import ipaddress
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core.util import create_half_hash
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError

from core.crypto import Keyring, SecretBoxError
from core.identity.jwks import SIGNATURE_ALGORITHMS, KeySetCache, KeySetError, UnknownKeyError

DEFAULT_ALGORITHMS = ("RS256", "ES256", "PS256")
DEFAULT_SCOPES = ("openid", "email", "profile")
# The issue allows at most 60 seconds of clock skew between us and a provider.
MAX_LEEWAY = 60.0
AUTH_METHODS = ("client_secret_basic", "client_secret_post")

# Claims that describe the token rather than the person: userinfo may not override them.
PROTOCOL_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp", "at_hash", "c_hash"}
    | {"auth_time", "acr", "amr", "sid", "jti"}
)


class ErrorCode(StrEnum):
    """Stable reasons a login fails; the web layer maps each to a translated page."""

    MISCONFIGURED = "misconfigured"
    DISCOVERY_FAILED = "discovery_failed"
    JWKS_FAILED = "jwks_failed"
    STATE_MISMATCH = "state_mismatch"
    LOGIN_EXPIRED = "login_expired"
    REDIRECT_URI_MISMATCH = "redirect_uri_mismatch"
    PROVIDER_ERROR = "provider_error"
    MISSING_CODE = "missing_code"
    TOKEN_EXCHANGE_FAILED = "token_exchange_failed"
    INVALID_TOKEN = "invalid_token"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    NONCE_MISMATCH = "nonce_mismatch"
    USERINFO_FAILED = "userinfo_failed"
    USERINFO_MISMATCH = "userinfo_mismatch"


class OIDCError(Exception):
    """A login that must not succeed. ``message`` is for logs, never for users."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# --- configuration -----------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _url_problem(url: str) -> str | None:
    """Why ``url`` may not be talked to, or None. Plain HTTP only on loopback."""
    parts = urlsplit(url)
    if not parts.hostname:
        return f"{url!r} is not an absolute URL"
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return None
    return f"{url!r} must use https"


def issuer_problem(issuer: str) -> str | None:
    """Why ``issuer`` is not a usable issuer identifier, or None (https, or http on loopback;
    no query or fragment: OpenID Connect Discovery §3)."""
    problem = _url_problem(issuer)
    if problem is None and (urlsplit(issuer).query or urlsplit(issuer).fragment):
        problem = "no query or fragment allowed"
    return problem


@dataclass(frozen=True)
class ProviderConfig:
    """One provider as a tenant configured it, with its secret resolved."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    # None: choose from the provider's discovery document.
    token_endpoint_auth_method: str | None = None
    fetch_userinfo: bool = False

    def __post_init__(self) -> None:
        problem = issuer_problem(self.issuer)
        if problem:
            raise ValueError(f"bad issuer: {problem}")
        if not self.client_id or not self.client_secret:
            raise ValueError("client_id and client_secret are required")
        # "none" and the HS* family are refused outright: the first needs no key, the
        # second would be verified with the client secret, which is not the provider's.
        bad = [alg for alg in self.algorithms if alg not in SIGNATURE_ALGORITHMS]
        if bad or not self.algorithms:
            raise ValueError(f"algorithms must be asymmetric signature algorithms, not {bad}")
        if self.token_endpoint_auth_method not in (None, *AUTH_METHODS):
            raise ValueError(f"unsupported token endpoint auth {self.token_endpoint_auth_method}")
        scopes = tuple(dict.fromkeys(("openid", *self.scopes)))
        object.__setattr__(self, "scopes", scopes)
        object.__setattr__(self, "algorithms", tuple(self.algorithms))


class ProviderRecord(Protocol):
    """What :func:`config_from_record` reads (``core.identity.models.IdentityProvider``)."""

    tenant_id: uuid.UUID
    provider_id: str
    issuer: str
    client_id: str
    client_secret_env: str | None
    client_secret_encrypted: str | None
    scopes: list[str]


def config_from_record(
    record: ProviderRecord,
    environ: Mapping[str, str] = os.environ,
    *,
    keyring: Keyring | None = None,
    **options: Any,
) -> ProviderConfig:
    """A :class:`ProviderConfig` with the secret from wherever the record keeps it: the
    named environment variable, or its stored ciphertext decrypted with ``keyring``."""
    if record.client_secret_env:
        secret = environ.get(record.client_secret_env, "")
        if not secret:
            raise OIDCError(
                ErrorCode.MISCONFIGURED, f"environment variable {record.client_secret_env} is empty"
            )
    else:
        secret = _decrypted_secret(record, keyring)
    try:
        return ProviderConfig(
            issuer=record.issuer,
            client_id=record.client_id,
            client_secret=secret,
            scopes=tuple(record.scopes or DEFAULT_SCOPES),
            **options,
        )
    except ValueError as error:
        raise OIDCError(ErrorCode.MISCONFIGURED, str(error)) from error


def client_secret_context(tenant_id: uuid.UUID, provider_id: str) -> tuple[str, str, str]:
    """What a stored client secret is bound to (the associated data of its encryption):
    a ciphertext copied to another provider or tenant does not decrypt there."""
    return ("identity_provider.client_secret", str(tenant_id), provider_id)


def _decrypted_secret(record: ProviderRecord, keyring: Keyring | None) -> str:
    if not record.client_secret_encrypted:
        raise OIDCError(ErrorCode.MISCONFIGURED, "no client secret is configured")
    if keyring is None:
        raise OIDCError(ErrorCode.MISCONFIGURED, "the client secret is stored encrypted: no keys")
    context = client_secret_context(record.tenant_id, record.provider_id)
    try:
        return keyring.decrypt(record.client_secret_encrypted, context)
    except SecretBoxError as error:
        raise OIDCError(ErrorCode.MISCONFIGURED, f"stored client secret: {error}") from error


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of a discovery document we rely on, checked."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    token_endpoint_auth_methods_supported: tuple[str, ...] = ("client_secret_basic",)

    @classmethod
    def from_document(cls, document: object, expected_issuer: str) -> ProviderMetadata:
        if not isinstance(document, Mapping):
            raise OIDCError(ErrorCode.DISCOVERY_FAILED, "discovery document is not an object")
        # Discovery §4.3: the issuer must be identical, not merely equivalent, or a
        # provider could vouch for tokens under someone else's name.
        if document.get("issuer") != expected_issuer:
            raise OIDCError(
                ErrorCode.WRONG_ISSUER,
                f"discovery says issuer {document.get('issuer')!r}, expected {expected_issuer!r}",
            )
        urls: dict[str, str | None] = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
            value = document.get(name)
            if value is None and name == "userinfo_endpoint":
                urls[name] = None
                continue
            problem = _url_problem(value) if isinstance(value, str) else f"{name} missing"
            if problem:
                raise OIDCError(ErrorCode.DISCOVERY_FAILED, f"{name}: {problem}")
            urls[name] = value
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if not isinstance(methods, list):
            raise OIDCError(ErrorCode.DISCOVERY_FAILED, "bad token_endpoint_auth_methods")
        return cls(
            issuer=expected_issuer,
            authorization_endpoint=str(urls["authorization_endpoint"]),
            token_endpoint=str(urls["token_endpoint"]),
            jwks_uri=str(urls["jwks_uri"]),
            userinfo_endpoint=urls["userinfo_endpoint"],
            token_endpoint_auth_methods_supported=tuple(str(m) for m in methods),
        )


# --- login attempts ----------------------------------------------------------------


@dataclass(frozen=True)
class LoginAttempt:
    """What we must remember between redirecting to the provider and its callback.

    Stored server-side only: ``code_verifier`` and ``nonce`` never reach the browser
    except as a hash (the PKCE challenge) or inside the provider's signed token.
    """

    state: str
    nonce: str
    code_verifier: str = field(repr=False)
    issuer: str
    client_id: str
    redirect_uri: str
    created_at: float


class LoginAttemptStore(Protocol):
    """Server-side storage of login attempts; ``take`` is single use."""

    async def put(self, attempt: LoginAttempt) -> None: ...

    async def take(self, state: str) -> LoginAttempt | None:
        """Remove and return the attempt for ``state``; None if unknown or already taken."""
        ...


class InMemoryLoginAttemptStore:
    """A :class:`LoginAttemptStore` in a dict: for tests and a single-process dev server."""

    def __init__(self) -> None:
        self._attempts: dict[str, LoginAttempt] = {}

    async def put(self, attempt: LoginAttempt) -> None:
        self._attempts[attempt.state] = attempt

    async def take(self, state: str) -> LoginAttempt | None:
        return self._attempts.pop(state, None)

    def __len__(self) -> int:
        return len(self._attempts)


# --- results -------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedIdentity:
    """A person the provider vouched for. Link accounts by (issuer, subject) only."""

    issuer: str
    subject: str
    claims: Mapping[str, Any]
    # Kept for RP-initiated logout (``id_token_hint``); never log it.
    id_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class Profile:
    name: str | None
    email: str | None
    email_verified: bool
    locale: str | None


_LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value.strip() or None if isinstance(value, str) else None


def default_profile(claims: Mapping[str, Any]) -> Profile:
    """The profile fields from standard claims (Core §5.1); a plugin hook may refine later."""
    name = _text(claims, "name")
    if name is None:
        parts = [_text(claims, "given_name"), _text(claims, "family_name")]
        name = " ".join(p for p in parts if p) or _text(claims, "preferred_username")
    email = _text(claims, "email")
    # Some providers send the string "true"; anything else is not a verification.
    verified = claims.get("email_verified")
    email_verified = email is not None and (verified is True or verified == "true")
    locale = _text(claims, "locale")
    if locale is not None and not _LOCALE.match(locale):
        locale = None
    return Profile(
        name=name,
        email=email,
        email_verified=email_verified,
        locale=locale.replace("_", "-") if locale else None,
    )


# --- the relying party -------------------------------------------------------------


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _basic_auth(client_id: str, client_secret: str) -> str:
    # RFC 6749 §2.3.1: both parts are form-encoded before Base64, so a secret with
    # ':' or '%' survives. quote() with safe="" is what every server decodes.
    raw = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode("ascii")


def _add_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class RelyingParty:
    """The OpenID Connect client for every tenant; one per process.

    Holds the HTTP client and the discovery and key-set caches (keyed by issuer and
    by JWKS URL, so tenants sharing a provider share its cache).
    """

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        discovery_ttl: float = 3600.0,
        jwks_ttl: float = 3600.0,
        jwks_min_refetch_interval: float = 10.0,
        leeway: float = MAX_LEEWAY,
        attempt_max_age: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 <= leeway <= MAX_LEEWAY:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY} seconds")
        self._owns_http = http is None
        # No redirects: a token or discovery endpoint that redirects is misconfigured,
        # and following it would send our client secret somewhere we did not choose.
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False
        )
        self._discovery_ttl = discovery_ttl
        self._leeway = leeway
        self._attempt_max_age = attempt_max_age
        self._clock = clock
        self._metadata: dict[str, tuple[ProviderMetadata, float]] = {}
        self._metadata_locks: dict[str, asyncio.Lock] = {}
        self.keys = KeySetCache(
            self._http,
            ttl=jwks_ttl,
            min_refetch_interval=jwks_min_refetch_interval,
            clock=clock,
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> RelyingParty:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- discovery --

    async def metadata(self, config: ProviderConfig) -> ProviderMetadata:
        """The provider's checked discovery document, cached per issuer."""
        return await self.discover(config.issuer)

    async def discover(self, issuer: str, *, refresh: bool = False) -> ProviderMetadata:
        """The checked discovery document of ``issuer``; ``refresh`` fetches it even when
        cached (an admin checking a provider wants today's answer)."""
        problem = issuer_problem(issuer)
        if problem:
            raise OIDCError(ErrorCode.MISCONFIGURED, f"bad issuer: {problem}")
        async with self._metadata_locks.setdefault(issuer, asyncio.Lock()):
            cached = self._metadata.get(issuer)
            now = self._clock()
            if not refresh and cached is not None and now - cached[1] < self._discovery_ttl:
                return cached[0]
            # Discovery §4: strip a trailing "/" from the issuer before appending.
            url = issuer.rstrip("/") + "/.well-known/openid-configuration"
            metadata = ProviderMetadata.from_document(await self._get_json(url), issuer)
            self._metadata[issuer] = (metadata, now)
            return metadata

    async def _get_json(self, url: str) -> object:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise OIDCError(
                ErrorCode.DISCOVERY_FAILED, f"cannot reach {url}: {error.__class__.__name__}"
            ) from error
        if response.status_code != 200:
            raise OIDCError(ErrorCode.DISCOVERY_FAILED, f"{url} answered {response.status_code}")
        try:
            return response.json()
        except ValueError as error:
            raise OIDCError(ErrorCode.DISCOVERY_FAILED, f"{url} did not return JSON") from error

    # -- step 1: send the browser to the provider --

    async def begin_login(
        self,
        config: ProviderConfig,
        redirect_uri: str,
        *,
        extra_params: Mapping[str, str] | None = None,
    ) -> tuple[str, LoginAttempt]:
        """The authorization URL to redirect to, and the attempt to store server-side.

        ``extra_params`` (``ui_locales``, ``login_hint``, ``prompt`` …) are passed on but
        may not replace the parameters the security of the flow rests on.
        """
        metadata = await self.metadata(config)
        attempt = LoginAttempt(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            # 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1): 64 bytes -> 86.
            code_verifier=secrets.token_urlsafe(64),
            issuer=config.issuer,
            client_id=config.client_id,
            redirect_uri=redirect_uri,
            created_at=self._clock(),
        )
        params = {
            "response_type": "code",
            "client_id": config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(config.scopes),
            "state": attempt.state,
            "nonce": attempt.nonce,
            "code_challenge": create_s256_code_challenge(attempt.code_verifier),
            "code_challenge_method": "S256",
        }
        clash = set(extra_params or {}) & set(params)
        if clash:
            raise ValueError(f"extra_params may not set {sorted(clash)}")
        params.update(extra_params or {})
        return _add_query(metadata.authorization_endpoint, params), attempt

    # -- step 2: the provider sends the browser back --

    async def complete_login(
        self,
        config: ProviderConfig,
        store: LoginAttemptStore,
        redirect_uri: str,
        callback_params: Mapping[str, str],
    ) -> VerifiedIdentity:
        """Check the callback, redeem the code and verify the ID token.

        ``redirect_uri`` is the callback URL of *this* request (its host included), so
        a login started on one tenant's host cannot complete on another's.
        """
        if "error" in callback_params:
            # Nothing is granted on this path, so it is reported whatever the state
            # (some providers drop it from error responses); a matching attempt is spent.
            state = callback_params.get("state")
            if isinstance(state, str) and state:
                await store.take(state)
            # Both values come from the browser: cut them short before they reach a log.
            described = f"{callback_params['error']}: {callback_params.get('error_description')}"
            raise OIDCError(ErrorCode.PROVIDER_ERROR, described[:300])
        attempt = await self._take_attempt(config, store, redirect_uri, callback_params)
        metadata = await self.metadata(config)
        # RFC 9207: a provider that names itself in the response must be the one we
        # sent the user to (defends against mix-up between a tenant's providers).
        if "iss" in callback_params and callback_params["iss"] != config.issuer:
            raise OIDCError(ErrorCode.WRONG_ISSUER, "authorization response from another issuer")
        code = callback_params.get("code")
        if not isinstance(code, str) or not code:
            raise OIDCError(ErrorCode.MISSING_CODE, "the callback carries no code")
        tokens = await self._exchange_code(config, metadata, attempt, code)
        claims = await self._verify_id_token(config, metadata, attempt, tokens)
        if config.fetch_userinfo and metadata.userinfo_endpoint:
            userinfo = await self._userinfo(metadata.userinfo_endpoint, tokens["access_token"])
            if userinfo.get("sub") != claims["sub"]:
                raise OIDCError(ErrorCode.USERINFO_MISMATCH, "userinfo is about someone else")
            claims |= {k: v for k, v in userinfo.items() if k not in PROTOCOL_CLAIMS}
        return VerifiedIdentity(
            issuer=config.issuer, subject=claims["sub"], claims=claims, id_token=tokens["id_token"]
        )

    async def _take_attempt(
        self,
        config: ProviderConfig,
        store: LoginAttemptStore,
        redirect_uri: str,
        callback_params: Mapping[str, str],
    ) -> LoginAttempt:
        state = callback_params.get("state")
        if not isinstance(state, str) or not state:
            raise OIDCError(ErrorCode.STATE_MISMATCH, "the callback carries no state")
        # Taken before anything else is checked: whatever happens next, this state is
        # spent, so neither a callback nor its code can be replayed through us.
        attempt = await store.take(state)
        if attempt is None or not hmac.compare_digest(attempt.state, state):
            raise OIDCError(ErrorCode.STATE_MISMATCH, "unknown or already used state")
        if attempt.issuer != config.issuer or attempt.client_id != config.client_id:
            raise OIDCError(ErrorCode.STATE_MISMATCH, "the login was started with another provider")
        if attempt.redirect_uri != redirect_uri:
            raise OIDCError(ErrorCode.REDIRECT_URI_MISMATCH, "the login was started elsewhere")
        if self._clock() - attempt.created_at > self._attempt_max_age:
            raise OIDCError(ErrorCode.LOGIN_EXPIRED, "the login attempt is too old")
        return attempt

    async def _exchange_code(
        self,
        config: ProviderConfig,
        metadata: ProviderMetadata,
        attempt: LoginAttempt,
        code: str,
    ) -> dict[str, str]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": attempt.redirect_uri,
            "code_verifier": attempt.code_verifier,
        }
        headers = {"Accept": "application/json"}
        method = self._auth_method(config, metadata)
        if method == "client_secret_basic":
            headers["Authorization"] = _basic_auth(config.client_id, config.client_secret)
        else:
            form |= {"client_id": config.client_id, "client_secret": config.client_secret}
        try:
            response = await self._http.post(metadata.token_endpoint, data=form, headers=headers)
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise OIDCError(
                ErrorCode.TOKEN_EXCHANGE_FAILED, f"token endpoint: {error.__class__.__name__}"
            ) from error
        if response.status_code != 200 or not isinstance(body, dict):
            error_code = body.get("error") if isinstance(body, dict) else None
            raise OIDCError(
                ErrorCode.TOKEN_EXCHANGE_FAILED, f"HTTP {response.status_code}: {error_code}"
            )
        for name in ("id_token", "access_token", "token_type"):
            if not isinstance(body.get(name), str):
                raise OIDCError(ErrorCode.TOKEN_EXCHANGE_FAILED, f"response lacks {name}")
        if body["token_type"].lower() != "bearer":
            raise OIDCError(ErrorCode.TOKEN_EXCHANGE_FAILED, "token_type is not Bearer")
        return {name: body[name] for name in ("id_token", "access_token")}

    @staticmethod
    def _auth_method(config: ProviderConfig, metadata: ProviderMetadata) -> str:
        if config.token_endpoint_auth_method:
            return config.token_endpoint_auth_method
        for method in AUTH_METHODS:
            if method in metadata.token_endpoint_auth_methods_supported:
                return method
        raise OIDCError(ErrorCode.MISCONFIGURED, "provider offers no client secret method")

    async def _verify_id_token(
        self,
        config: ProviderConfig,
        metadata: ProviderMetadata,
        attempt: LoginAttempt,
        tokens: Mapping[str, str],
    ) -> dict[str, Any]:
        id_token = tokens["id_token"]
        try:
            header = jws.extract_compact(id_token.encode()).headers()
        except (JoseError, ValueError, TypeError) as error:
            raise OIDCError(ErrorCode.INVALID_TOKEN, "the ID token is not a signed JWT") from error
        # Decide on the algorithm before touching any key, so "none" or HS256 never
        # reach a verifier that might accept them.
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in config.algorithms:
            raise OIDCError(ErrorCode.ALG_NOT_ALLOWED, f"algorithm {alg!r} is not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise OIDCError(ErrorCode.INVALID_TOKEN, "kid is not a string")
        try:
            key = await self.keys.key_for(metadata.jwks_uri, alg, kid)
        except UnknownKeyError as error:
            raise OIDCError(ErrorCode.UNKNOWN_KEY, str(error)) from error
        except KeySetError as error:
            raise OIDCError(ErrorCode.JWKS_FAILED, str(error)) from error
        try:
            claims = dict(jwt.decode(id_token, key, algorithms=[alg]).claims)
        except BadSignatureError as error:
            raise OIDCError(ErrorCode.BAD_SIGNATURE, "signature does not verify") from error
        except (JoseError, ValueError, TypeError) as error:
            raise OIDCError(ErrorCode.INVALID_TOKEN, error.__class__.__name__) from error
        self._check_claims(config, attempt, claims)
        # at_hash is optional in the code flow; when present it binds the access token.
        at_hash = claims.get("at_hash")
        expected = create_half_hash(tokens["access_token"], alg)  # bytes, or None
        if at_hash is not None and (expected is None or at_hash != expected.decode("ascii")):
            raise OIDCError(ErrorCode.INVALID_TOKEN, "at_hash does not match the access token")
        return claims

    def _check_claims(
        self, config: ProviderConfig, attempt: LoginAttempt, claims: Mapping[str, Any]
    ) -> None:
        if claims.get("iss") != config.issuer:
            raise OIDCError(ErrorCode.WRONG_ISSUER, f"token issued by {claims.get('iss')!r}")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or config.client_id not in audiences:
            raise OIDCError(ErrorCode.WRONG_AUDIENCE, "the token is not for this client")
        # Core §3.1.3.7 (4, 5): with several audiences the authorized party must be us.
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != config.client_id:
            raise OIDCError(ErrorCode.WRONG_AUDIENCE, "the token was issued to another party")
        now = self._clock()
        exp, iat = _number(claims, "exp"), _number(claims, "iat")
        if exp is None or iat is None:
            raise OIDCError(ErrorCode.INVALID_TOKEN, "exp and iat are required numbers")
        if now > exp + self._leeway:
            raise OIDCError(ErrorCode.EXPIRED, "the ID token has expired")
        nbf = _number(claims, "nbf")
        if iat > now + self._leeway or (nbf is not None and nbf > now + self._leeway):
            raise OIDCError(ErrorCode.NOT_YET_VALID, "the ID token is from the future")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not 0 < len(sub) <= 255:
            raise OIDCError(ErrorCode.INVALID_TOKEN, "sub is missing or malformed")
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce, attempt.nonce):
            raise OIDCError(ErrorCode.NONCE_MISMATCH, "nonce does not match this login")

    async def _userinfo(self, url: str, access_token: str) -> dict[str, Any]:
        try:
            response = await self._http.get(
                url,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
            body = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as error:
            raise OIDCError(ErrorCode.USERINFO_FAILED, error.__class__.__name__) from error
        if not isinstance(body, dict):
            raise OIDCError(ErrorCode.USERINFO_FAILED, f"userinfo answered {response.status_code}")
        return body


__all__ = [
    "DEFAULT_ALGORITHMS",
    "ErrorCode",
    "InMemoryLoginAttemptStore",
    "LoginAttempt",
    "LoginAttemptStore",
    "OIDCError",
    "Profile",
    "ProviderConfig",
    "ProviderMetadata",
    "ProviderRecord",
    "RelyingParty",
    "VerifiedIdentity",
    "client_secret_context",
    "default_profile",
    "issuer_problem",
]
