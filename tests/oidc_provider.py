"""OpenID providers on loopback for the identity tests: real HTTP, nothing mocked.

``MockProvider`` runs ``oidc-provider-mock`` (a real authlib-based provider) in a
thread. ``RogueProvider`` is our own minimal provider whose ID tokens each test
crafts, for the forgeries an honest provider never issues (wrong ``iss``, ``alg=none``,
unknown ``kid`` …). Both listen on 127.0.0.1 on a free port.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote_plus, urlencode, urlsplit

import httpx
import werkzeug.serving
from joserfc import jwt
from joserfc.jwk import ECKey, Key, OctKey, RSAKey

# oidc-provider-mock still imports authlib.jose and authlib's httpx integration, both
# deprecated upstream; the warnings are about its code, not ours.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import oidc_provider_mock


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def callback_params(location: str) -> dict[str, str]:
    """The query of the provider's redirect back to us: what our callback would receive."""
    return dict(parse_qsl(urlsplit(location).query))


# --- oidc-provider-mock ---------------------------------------------------------------


class PKCEGate:
    """WSGI middleware that makes oidc-provider-mock enforce PKCE (RFC 7636).

    oidc-provider-mock 0.3.4 registers no code-challenge extension: it accepts a token
    request with a missing or wrong ``code_verifier``. Real providers (Keycloak, Entra)
    refuse it, and our "missing PKCE verifier" test needs a provider that does.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.challenges: dict[str, str] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if method == "POST" and path == "/oauth2/authorize":
            return self._authorize(environ, start_response)
        if method == "POST" and path == "/oauth2/token":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = BytesIO(body)
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            challenge = self.challenges.get(form.get("code", ""))
            verifier = form.get("code_verifier", "")
            if challenge is not None and (not verifier or s256(verifier) != challenge):
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error": "invalid_grant", "error_description": "PKCE failed"}']
        return self.app(environ, start_response)

    def _authorize(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        challenge = query.get("code_challenge")

        def remember_code(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            location = dict(headers).get("Location", "")
            code = callback_params(location).get("code")
            if code and challenge and query.get("code_challenge_method") == "S256":
                self.challenges[code] = challenge
            return start_response(status, headers, *args)

        return self.app(environ, remember_code)


class _QuietHandler(werkzeug.serving.WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class RegisteredClient:
    client_id: str
    client_secret: str
    redirect_uri: str


class MockProvider:
    """oidc-provider-mock with client registration and nonces required, behind a PKCE gate."""

    def __init__(self) -> None:
        app = oidc_provider_mock.app(require_client_registration=True, require_nonce=True)
        self.gate = PKCEGate(app)
        self._server = werkzeug.serving.make_server(
            "127.0.0.1", 0, self.gate, threaded=True, request_handler=_QuietHandler
        )
        # The mock derives its issuer from the Host header: this is what it will say.
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> MockProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2)

    def register_client(self, redirect_uri: str) -> RegisteredClient:
        """Pre-register a client (dynamic registration, RFC 7591) for one redirect URI."""
        response = httpx.post(
            f"{self.issuer}/oauth2/clients", json={"redirect_uris": [redirect_uri]}
        )
        response.raise_for_status()
        body = response.json()
        return RegisteredClient(body["client_id"], body["client_secret"], redirect_uri)

    def set_user(self, sub: str, claims: Mapping[str, object]) -> None:
        httpx.put(f"{self.issuer}/users/{sub}", json=dict(claims)).raise_for_status()

    async def authorize(
        self, authorization_url: str, sub: str, *, deny: bool = False
    ) -> dict[str, str]:
        """Fill in the provider's authorization form as a person would; return the callback."""
        async with httpx.AsyncClient() as browser:
            page = await browser.get(authorization_url)
            assert page.status_code == 200, page.text
            # The form posts back to the page's own URL (no action attribute).
            assert re.search(r'<form method="post"', page.text)
            assert 'name="sub"' in page.text
            form = {"action": "deny"} if deny else {"sub": sub}
            answer = await browser.post(authorization_url, data=form)
        assert answer.status_code == 302, answer.text
        return callback_params(answer.headers["location"])


# --- the rogue provider ---------------------------------------------------------------


def sign(
    claims: Mapping[str, Any], key: Key, alg: str = "RS256", header: Mapping[str, Any] | None = None
) -> str:
    """A JWT over ``claims`` signed with ``key``.

    The header names the key's ``kid``; ``header`` adds to it (a None value removes).
    """
    protected: dict[str, Any] = {"alg": alg}
    if key.kid:
        protected["kid"] = key.kid
    protected.update(header or {})
    protected = {name: value for name, value in protected.items() if value is not None}
    return jwt.encode(protected, dict(claims), key, algorithms=[alg])


def unsigned(claims: Mapping[str, Any]) -> str:
    """An ``alg=none`` JWT: no signature at all."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(dict(claims)).encode())}."


def hs256(claims: Mapping[str, Any], secret: str) -> str:
    """A JWT MACed with a shared secret (the client secret, in the attack)."""
    with warnings.catch_warnings():
        # joserfc warns that a short secret is a weak key: that is rather the point.
        warnings.simplefilter("ignore")
        key = OctKey.import_key(secret)
    return jwt.encode({"alg": "HS256"}, dict(claims), key, ["HS256"])


def new_rsa_key(kid: str | None = None) -> RSAKey:
    return RSAKey.generate_key(2048, {"kid": kid or secrets.token_hex(8)})


def new_ec_key(kid: str | None = None) -> ECKey:
    return ECKey.generate_key("P-256", {"kid": kid or secrets.token_hex(8)})


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str | None
    used: bool = False


# A test replaces ``RogueProvider.forge``: it gets the claims an honest provider would
# put in the ID token, and returns the ID token to send (or the whole response body).
Forge = Callable[[dict[str, Any]], str | dict[str, Any]]


@dataclass
class RogueProvider:
    """A provider we control end to end. Call :meth:`reset` before each test."""

    client_id: str = "tandem-rogue"
    # Characters that break a naive client_secret_basic header on purpose.
    client_secret: str = "s3cr:t%+/ü"
    issuer: str = ""
    key: RSAKey = field(default_factory=lambda: new_rsa_key("rogue-1"))
    published: list[Key] = field(default_factory=list)
    auth_method: str = "client_secret_basic"
    discovery_overrides: dict[str, Any] = field(default_factory=dict)
    userinfo_overrides: dict[str, Any] = field(default_factory=dict)
    forge: Forge | None = None
    hits: dict[str, int] = field(default_factory=dict)
    grants: dict[str, _Grant] = field(default_factory=dict)

    def reset(self) -> None:
        self.published = [self.key]
        self.auth_method = "client_secret_basic"
        self.discovery_overrides = {}
        self.userinfo_overrides = {}
        self.forge = None
        self.hits = {"discovery": 0, "jwks": 0, "token": 0, "userinfo": 0}

    def honest_claims(self, grant: _Grant, sub: str = "rogue-user") -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "sub": sub,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "email": "rosa@example.org",
            "name": "Rosa Rogue",
        }

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "token_endpoint_auth_methods_supported": [self.auth_method],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            **self.discovery_overrides,
        }

    async def authorize(self, authorization_url: str) -> dict[str, str]:
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(authorization_url)
        assert answer.status_code == 302, answer.text
        return callback_params(answer.headers["location"])


class _RogueHandler(BaseHTTPRequestHandler):
    provider: RogueProvider  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: object, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        p = self.provider
        if url.path == "/.well-known/openid-configuration":
            p.hits["discovery"] += 1
            self._send(200, p.discovery())
        elif url.path == "/jwks":
            p.hits["jwks"] += 1
            self._send(200, {"keys": [k.as_dict(private=False) for k in p.published]})
        elif url.path == "/authorize":
            self._authorize(dict(parse_qsl(url.query)))
        elif url.path == "/userinfo":
            p.hits["userinfo"] += 1
            if self.headers.get("Authorization") != "Bearer rogue-access-token":
                self._send(401, {"error": "invalid_token"})
                return
            self._send(200, {"sub": "rogue-user", "locale": "de-DE", **p.userinfo_overrides})
        else:
            self._send(404, {"error": "not_found"})

    def _authorize(self, query: dict[str, str]) -> None:
        p = self.provider
        if query.get("client_id") != p.client_id or query.get("response_type") != "code":
            self._send(400, {"error": "invalid_request"})
            return
        code = secrets.token_urlsafe(16)
        p.grants[code] = _Grant(
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce", ""),
            challenge=query.get("code_challenge") if query.get("code_challenge_method") else None,
        )
        location = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
        self._send(302, None, {"Location": location})

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/token":
            self._send(404, {"error": "not_found"})
            return
        p = self.provider
        p.hits["token"] += 1
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        error = self._token_error(form)
        if error:
            self._send(400 if error != "invalid_client" else 401, {"error": error})
            return
        grant = p.grants[form["code"]]
        grant.used = True
        claims = p.honest_claims(grant)
        forged = p.forge(claims) if p.forge else sign(claims, p.key)
        body: dict[str, Any] = {
            "access_token": "rogue-access-token",
            "token_type": "Bearer",
            "expires_in": 300,
        }
        body |= forged if isinstance(forged, dict) else {"id_token": forged}
        self._send(200, body)

    def _token_error(self, form: dict[str, str]) -> str | None:
        p = self.provider
        if not self._client_authenticated(form):
            return "invalid_client"
        grant = p.grants.get(form.get("code", ""))
        if grant is None or grant.used or grant.redirect_uri != form.get("redirect_uri"):
            return "invalid_grant"
        verifier = form.get("code_verifier", "")
        if grant.challenge is None or not verifier or s256(verifier) != grant.challenge:
            return "invalid_grant"
        return None

    def _client_authenticated(self, form: dict[str, str]) -> bool:
        p = self.provider
        if p.auth_method == "client_secret_post":
            given = (form.get("client_id"), form.get("client_secret"))
        else:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return False
            raw = base64.b64decode(header[6:]).decode()
            client_id, _, secret = raw.partition(":")
            given = (unquote_plus(client_id), unquote_plus(secret))
        return given == (p.client_id, p.client_secret)


@contextmanager
def run_rogue_provider() -> Iterator[RogueProvider]:
    provider = RogueProvider()
    handler = type("Handler", (_RogueHandler,), {"provider": provider})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    provider.issuer = f"http://127.0.0.1:{server.server_port}"
    provider.reset()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(2)


@contextmanager
def run_mock_providers(count: int) -> Iterator[list[MockProvider]]:
    providers = [MockProvider().start() for _ in range(count)]
    try:
        yield providers
    finally:
        for provider in providers:
            provider.stop()
