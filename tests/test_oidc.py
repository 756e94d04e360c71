"""The OpenID Connect relying party against real providers on loopback.

Two ``oidc-provider-mock`` instances stand for two tenants' providers (the happy
path and everything an honest provider refuses); the rogue provider crafts the
forged tokens an honest provider would never issue.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from core.identity.oidc import (
    ErrorCode,
    InMemoryLoginAttemptStore,
    OIDCError,
    ProviderConfig,
    RelyingParty,
    config_from_record,
    default_profile,
)
from tests.oidc_provider import (
    MockProvider,
    RegisteredClient,
    RogueProvider,
    hs256,
    new_ec_key,
    new_rsa_key,
    run_mock_providers,
    run_rogue_provider,
    s256,
    sign,
    unsigned,
)

# oidc-provider-mock 0.3.4 uses an authlib server hook deprecated in authlib 1.7.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

MUENCHEN = "http://muenchen.localhost:8000/login/oidc/stadt/callback"
AUGSBURG = "http://augsburg.localhost:8000/login/oidc/entra/callback"


@dataclass
class Tenant:
    provider: MockProvider
    client: RegisteredClient
    config: ProviderConfig


@pytest.fixture(scope="session")
def tenants() -> Iterator[dict[str, Tenant]]:
    """Two tenants, each with its own provider (own keys, own registered client)."""
    with run_mock_providers(2) as (stadt, entra):
        result = {}
        for name, provider, redirect_uri in (
            ("muenchen", stadt, MUENCHEN),
            ("augsburg", entra, AUGSBURG),
        ):
            client = provider.register_client(redirect_uri)
            config = ProviderConfig(provider.issuer, client.client_id, client.client_secret)
            result[name] = Tenant(provider, client, config)
        stadt.set_user("anna", {"email": "anna@muenchen.example", "name": "Anna", "locale": "de"})
        entra.set_user("omar", {"email": "omar@augsburg.example", "given_name": "Omar"})
        yield result


@pytest.fixture(scope="session")
def rogue_server() -> Iterator[RogueProvider]:
    with run_rogue_provider() as provider:
        yield provider


@pytest.fixture
def rogue(rogue_server: RogueProvider) -> RogueProvider:
    rogue_server.reset()
    return rogue_server


@pytest.fixture
def rogue_config(rogue: RogueProvider) -> ProviderConfig:
    return ProviderConfig(rogue.issuer, rogue.client_id, rogue.client_secret)


@pytest.fixture
async def rp() -> AsyncIterator[RelyingParty]:
    # A fresh relying party per test: its caches must not carry over.
    async with RelyingParty() as relying_party:
        yield relying_party


@pytest.fixture
def store() -> InMemoryLoginAttemptStore:
    return InMemoryLoginAttemptStore()


async def start(rp: RelyingParty, config: ProviderConfig, store: Any, redirect_uri: str) -> str:
    url, attempt = await rp.begin_login(config, redirect_uri)
    await store.put(attempt)
    return url


async def rogue_login(
    rp: RelyingParty, rogue: RogueProvider, config: ProviderConfig, store: Any
) -> Any:
    url = await start(rp, config, store, MUENCHEN)
    return await rp.complete_login(config, store, MUENCHEN, await rogue.authorize(url))


async def rejected(coro: Any) -> ErrorCode:
    with pytest.raises(OIDCError) as caught:
        await coro
    return caught.value.code


# --- the happy path -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tenant", "redirect_uri", "sub", "email"),
    [
        ("muenchen", MUENCHEN, "anna", "anna@muenchen.example"),
        ("augsburg", AUGSBURG, "omar", "omar@augsburg.example"),
    ],
)
async def test_login_through_each_tenants_own_provider(
    tenants: dict[str, Tenant],
    rp: RelyingParty,
    store: Any,
    tenant: str,
    redirect_uri: str,
    sub: str,
    email: str,
) -> None:
    config = tenants[tenant].config
    url, attempt = await rp.begin_login(config, redirect_uri)
    await store.put(attempt)

    query = dict(parse_qsl(urlsplit(url).query))
    assert url.startswith(f"{config.issuer}/oauth2/authorize?")
    assert query["state"] == attempt.state and query["nonce"] == attempt.nonce
    assert query["code_challenge"] == s256(attempt.code_verifier)
    assert query["code_challenge_method"] == "S256"
    assert attempt.code_verifier not in url
    assert query["scope"].split() == ["openid", "email", "profile"]

    params = await tenants[tenant].provider.authorize(url, sub)
    identity = await rp.complete_login(config, store, redirect_uri, params)

    assert (identity.issuer, identity.subject) == (config.issuer, sub)
    assert identity.claims["email"] == email
    assert len(store) == 0, "the attempt is spent"


async def test_the_two_providers_are_distinct_issuers_with_distinct_keys(
    tenants: dict[str, Tenant], rp: RelyingParty, store: Any
) -> None:
    """A token from one tenant's provider does not verify as the other's."""
    muenchen, augsburg = tenants["muenchen"], tenants["augsburg"]
    assert muenchen.config.issuer != augsburg.config.issuer
    url = await start(rp, muenchen.config, store, MUENCHEN)
    params = await muenchen.provider.authorize(url, "anna")
    # The same callback presented to the other tenant's provider configuration.
    code = await rejected(rp.complete_login(augsburg.config, store, MUENCHEN, params))
    assert code == ErrorCode.STATE_MISMATCH


async def test_userinfo_is_fetched_and_merged(
    tenants: dict[str, Tenant], rp: RelyingParty, store: Any
) -> None:
    config = dataclasses.replace(tenants["muenchen"].config, fetch_userinfo=True)
    url = await start(rp, config, store, MUENCHEN)
    identity = await rp.complete_login(
        config, store, MUENCHEN, await tenants["muenchen"].provider.authorize(url, "anna")
    )
    assert identity.subject == "anna"
    assert default_profile(identity.claims).locale == "de"


# --- rejected by us or by an honest provider ----------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: {k: v for k, v in p.items() if k != "state"}, id="missing"),
        pytest.param(lambda p: {**p, "state": "forged"}, id="wrong"),
        pytest.param(lambda p: {**p, "state": ""}, id="empty"),
    ],
)
async def test_wrong_or_missing_state_is_rejected(
    tenants: dict[str, Tenant], rp: RelyingParty, store: Any, tamper: Any
) -> None:
    tenant = tenants["muenchen"]
    url = await start(rp, tenant.config, store, MUENCHEN)
    params = await tenant.provider.authorize(url, "anna")
    code = await rejected(rp.complete_login(tenant.config, store, MUENCHEN, tamper(params)))
    assert code == ErrorCode.STATE_MISMATCH
    # The genuine callback still works: a forged one cannot burn someone's login.
    assert (await rp.complete_login(tenant.config, store, MUENCHEN, params)).subject == "anna"


async def test_replayed_callback_is_rejected_by_the_spent_state(
    tenants: dict[str, Tenant], rp: RelyingParty, store: Any
) -> None:
    tenant = tenants["muenchen"]
    url = await start(rp, tenant.config, store, MUENCHEN)
    params = await tenant.provider.authorize(url, "anna")
    await rp.complete_login(tenant.config, store, MUENCHEN, params)
    code = await rejected(rp.complete_login(tenant.config, store, MUENCHEN, params))
    assert code == ErrorCode.STATE_MISMATCH


async def test_replayed_code_is_refused_by_the_provider(
    tenants: dict[str, Tenant], rp: RelyingParty, store: Any
) -> None:
    """Even past our state check (attempt put back), the provider redeems a code once."""
    tenant = tenants["muenchen"]
    url, attempt = await rp.begin_login(tenant.config, MUENCHEN)
    await store.put(attempt)
    params = await tenant.provider.authorize(url, "anna")
    await rp.complete_login(tenant.config, store, MUENCHEN, params)
    await store.put(attempt)
    code = await rejected(rp.complete_login(tenant.config, store, MUENCHEN, params))
    assert code == ErrorCode.TOKEN_EXCHANGE_FAILED


@pytest.mark.parametrize("verifier", ["", "a-verifier-that-is-long-enough-but-not-the-one-hashed"])
async def test_missing_or_wrong_pkce_verifier_is_refused(
    tenants: dict[str, Tenant], rp: RelyingParty, store: Any, verifier: str
) -> None:
    tenant = tenants["augsburg"]
    url, attempt = await rp.begin_login(tenant.config, AUGSBURG)
    await store.put(dataclasses.replace(attempt, code_verifier=verifier))
    params = await tenant.provider.authorize(url, "omar")
    code = await rejected(rp.complete_login(tenant.config, store, AUGSBURG, params))
    assert code == ErrorCode.TOKEN_EXCHANGE_FAILED


async def test_provider_error_callback_is_rejected(
    tenants: dict[str, Tenant], rp: RelyingParty, store: Any
) -> None:
    tenant = tenants["muenchen"]
    url = await start(rp, tenant.config, store, MUENCHEN)
    # The person clicks "Deny". (oidc-provider-mock 0.3.4 leaves state out of this
    # error redirect, against RFC 6749 §4.1.2.1; we report the error regardless.)
    params = await tenant.provider.authorize(url, "anna", deny=True)
    assert params["error"] == "access_denied"
    with pytest.raises(OIDCError) as caught:
        await rp.complete_login(tenant.config, store, MUENCHEN, params)
    assert caught.value.code == ErrorCode.PROVIDER_ERROR
    assert "access_denied" in caught.value.message


async def test_provider_error_with_state_spends_the_attempt(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    _, attempt = await rp.begin_login(rogue_config, MUENCHEN)
    await store.put(attempt)
    params = {"error": "login_required", "state": attempt.state}
    assert await rejected(rp.complete_login(rogue_config, store, MUENCHEN, params)) == (
        ErrorCode.PROVIDER_ERROR
    )
    assert len(store) == 0
    # A code turning up later for the same state finds nothing to complete.
    params = {"code": "late", "state": attempt.state}
    assert await rejected(rp.complete_login(rogue_config, store, MUENCHEN, params)) == (
        ErrorCode.STATE_MISMATCH
    )


async def test_callback_without_code_is_rejected(
    tenants: dict[str, Tenant], rp: RelyingParty, store: Any
) -> None:
    tenant = tenants["muenchen"]
    _, attempt = await rp.begin_login(tenant.config, MUENCHEN)
    await store.put(attempt)
    code = await rejected(
        rp.complete_login(tenant.config, store, MUENCHEN, {"state": attempt.state})
    )
    assert code == ErrorCode.MISSING_CODE


async def test_callback_on_another_tenants_host_is_rejected(
    tenants: dict[str, Tenant], rp: RelyingParty, store: Any
) -> None:
    tenant = tenants["muenchen"]
    url = await start(rp, tenant.config, store, MUENCHEN)
    params = await tenant.provider.authorize(url, "anna")
    other_host = MUENCHEN.replace("muenchen.", "augsburg.")
    code = await rejected(rp.complete_login(tenant.config, store, other_host, params))
    assert code == ErrorCode.REDIRECT_URI_MISMATCH


async def test_wrong_client_secret_is_refused(
    tenants: dict[str, Tenant], rp: RelyingParty, store: Any
) -> None:
    tenant = tenants["muenchen"]
    config = dataclasses.replace(tenant.config, client_secret="not-the-secret")
    url = await start(rp, config, store, MUENCHEN)
    params = await tenant.provider.authorize(url, "anna")
    code = await rejected(rp.complete_login(config, store, MUENCHEN, params))
    assert code == ErrorCode.TOKEN_EXCHANGE_FAILED


async def test_an_old_login_attempt_expires(tenants: dict[str, Tenant], store: Any) -> None:
    now = [time.time()]
    tenant = tenants["muenchen"]
    async with RelyingParty(clock=lambda: now[0], attempt_max_age=600) as rp:
        url = await start(rp, tenant.config, store, MUENCHEN)
        params = await tenant.provider.authorize(url, "anna")
        now[0] += 601
        code = await rejected(rp.complete_login(tenant.config, store, MUENCHEN, params))
    assert code == ErrorCode.LOGIN_EXPIRED


# --- forged tokens, from the rogue provider ---------------------------------------------


async def test_rogue_provider_honest_token_is_accepted(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    """The control for every forgery below: unmodified, the login succeeds."""
    identity = await rogue_login(rp, rogue, rogue_config, store)
    assert (identity.issuer, identity.subject) == (rogue.issuer, "rogue-user")
    # The client secret has ':' '%' '+' '/' and 'ü': form-encoded in the Basic header.
    assert rogue.hits == {"discovery": 1, "jwks": 1, "token": 1, "userinfo": 0}


async def test_client_secret_post_is_used_when_the_provider_says_so(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    rogue.auth_method = "client_secret_post"
    assert (await rogue_login(rp, rogue, rogue_config, store)).subject == "rogue-user"


class FromNow(int):
    """A timestamp claim given as seconds from the moment the token is forged.

    Parameters are built when pytest collects the tests, possibly a minute before
    the test runs; absolute times taken then would drift out of the leeway.
    """


def _forge(**changes: Any) -> Any:
    def forge(claims: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time())
        claims.update({k: now + v if isinstance(v, FromNow) else v for k, v in changes.items()})
        return {k: v for k, v in claims.items() if v is not None}

    return forge


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"nonce": "someone-elses-nonce"}, ErrorCode.NONCE_MISMATCH),
        ({"nonce": None}, ErrorCode.NONCE_MISMATCH),
        ({"iss": "http://127.0.0.1:1"}, ErrorCode.WRONG_ISSUER),
        ({"iss": None}, ErrorCode.WRONG_ISSUER),
        ({"aud": "another-client"}, ErrorCode.WRONG_AUDIENCE),
        ({"aud": ["another-client"]}, ErrorCode.WRONG_AUDIENCE),
        ({"aud": ["tandem-rogue", "another-client"]}, ErrorCode.WRONG_AUDIENCE),
        ({"aud": ["tandem-rogue", "x"], "azp": "x"}, ErrorCode.WRONG_AUDIENCE),
        ({"azp": "another-client"}, ErrorCode.WRONG_AUDIENCE),
        ({"exp": FromNow(-120)}, ErrorCode.EXPIRED),
        ({"exp": None}, ErrorCode.INVALID_TOKEN),
        ({"exp": "tomorrow"}, ErrorCode.INVALID_TOKEN),
        ({"iat": FromNow(600)}, ErrorCode.NOT_YET_VALID),
        ({"nbf": FromNow(600)}, ErrorCode.NOT_YET_VALID),
        ({"sub": None}, ErrorCode.INVALID_TOKEN),
        ({"sub": "x" * 256}, ErrorCode.INVALID_TOKEN),
        ({"at_hash": "bm90LXRoZS1oYXNo"}, ErrorCode.INVALID_TOKEN),
    ],
    ids=lambda v: str(v) if isinstance(v, ErrorCode) else None,
)
async def test_tampered_claims_are_rejected(
    rp: RelyingParty,
    rogue: RogueProvider,
    rogue_config: ProviderConfig,
    store: Any,
    changes: dict[str, Any],
    expected: ErrorCode,
) -> None:
    tamper = _forge(**changes)
    rogue.forge = lambda claims: sign(tamper(claims), rogue.key)
    assert await rejected(rogue_login(rp, rogue, rogue_config, store)) == expected


@pytest.mark.parametrize(
    ("changes"),
    [
        {"exp": FromNow(-30)},  # expired, but within the 60 s leeway
        {"iat": FromNow(30)},  # a provider clock slightly ahead
        {"aud": ["tandem-rogue", "x"], "azp": "tandem-rogue"},
        {"aud": ["tandem-rogue"]},
    ],
)
async def test_claims_within_tolerance_are_accepted(
    rp: RelyingParty,
    rogue: RogueProvider,
    rogue_config: ProviderConfig,
    store: Any,
    changes: dict[str, Any],
) -> None:
    tamper = _forge(**changes)
    rogue.forge = lambda claims: sign(tamper(claims), rogue.key)
    assert (await rogue_login(rp, rogue, rogue_config, store)).subject == "rogue-user"


async def test_token_signed_by_another_key_under_the_published_kid_is_rejected(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    impostor = new_rsa_key(rogue.key.kid)
    rogue.forge = lambda claims: sign(claims, impostor)
    assert await rejected(rogue_login(rp, rogue, rogue_config, store)) == ErrorCode.BAD_SIGNATURE


async def test_alg_none_is_rejected_before_any_key_is_fetched(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    rogue.forge = unsigned
    code = await rejected(rogue_login(rp, rogue, rogue_config, store))
    assert code == ErrorCode.ALG_NOT_ALLOWED
    assert rogue.hits["jwks"] == 0


async def test_hs256_with_the_client_secret_is_rejected(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    rogue.forge = lambda claims: hs256(claims, rogue.client_secret)
    code = await rejected(rogue_login(rp, rogue, rogue_config, store))
    assert code == ErrorCode.ALG_NOT_ALLOWED
    assert rogue.hits["jwks"] == 0


async def test_algorithm_outside_the_allowed_list_is_rejected(
    rp: RelyingParty, rogue: RogueProvider, store: Any
) -> None:
    """RS512 by the provider's own key: valid, but this tenant allows only ES256."""
    config = ProviderConfig(
        rogue.issuer, rogue.client_id, rogue.client_secret, algorithms=("ES256",)
    )
    rogue.forge = lambda claims: sign(claims, rogue.key, "RS512")
    assert await rejected(rogue_login(rp, rogue, config, store)) == ErrorCode.ALG_NOT_ALLOWED


async def test_header_alg_not_matching_the_key_type_is_rejected(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    """ES256 claimed over the RSA key's kid: no key confusion, just no usable key."""
    ec = new_ec_key(rogue.key.kid)
    rogue.forge = lambda claims: sign(claims, ec, "ES256")
    assert await rejected(rogue_login(rp, rogue, rogue_config, store)) == ErrorCode.UNKNOWN_KEY


async def test_es256_provider_is_accepted(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    ec = new_ec_key()
    rogue.published = [rogue.key, ec]
    rogue.forge = lambda claims: sign(claims, ec, "ES256")
    assert (await rogue_login(rp, rogue, rogue_config, store)).subject == "rogue-user"


async def test_unknown_kid_refetches_the_key_set_once_then_fails(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    await rogue_login(rp, rogue, rogue_config, store)  # warms the key set cache
    assert rogue.hits["jwks"] == 1
    stranger = new_rsa_key("never-published")
    rogue.forge = lambda claims: sign(claims, stranger)
    assert await rejected(rogue_login(rp, rogue, rogue_config, store)) == ErrorCode.UNKNOWN_KEY
    assert rogue.hits["jwks"] == 2
    # Straight after, another unknown kid does not make us fetch again.
    assert await rejected(rogue_login(rp, rogue, rogue_config, store)) == ErrorCode.UNKNOWN_KEY
    assert rogue.hits["jwks"] == 2


async def test_rotated_key_is_found_by_the_refetch(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    await rogue_login(rp, rogue, rogue_config, store)
    rotated = new_rsa_key("rogue-2")
    rogue.published = [rotated]
    rogue.forge = lambda claims: sign(claims, rotated)
    assert (await rogue_login(rp, rogue, rogue_config, store)).subject == "rogue-user"
    assert rogue.hits["jwks"] == 2
    # The old key is gone from the set: a token still signed by it no longer verifies.
    rogue.forge = lambda claims: sign(claims, rogue.key)
    assert await rejected(rogue_login(rp, rogue, rogue_config, store)) == ErrorCode.UNKNOWN_KEY


async def test_token_without_kid_needs_an_unambiguous_key(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    anonymous = new_rsa_key()
    rogue.published = [rogue.key]
    rogue.forge = lambda claims: sign(claims, rogue.key, header={"kid": None})
    assert (await rogue_login(rp, rogue, rogue_config, store)).subject == "rogue-user"
    rogue.published = [rogue.key, anonymous]
    async with RelyingParty() as fresh:
        code = await rejected(rogue_login(fresh, rogue, rogue_config, store))
    assert code == ErrorCode.UNKNOWN_KEY


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.sig.extra.part"],
)
async def test_malformed_id_token_is_rejected(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any, token: str
) -> None:
    rogue.forge = lambda claims: token
    assert await rejected(rogue_login(rp, rogue, rogue_config, store)) == ErrorCode.INVALID_TOKEN


@pytest.mark.parametrize(
    "body",
    [
        {"id_token": None},
        {"token_type": "mac"},
        {"access_token": None},
    ],
)
async def test_incomplete_token_response_is_rejected(
    rp: RelyingParty,
    rogue: RogueProvider,
    rogue_config: ProviderConfig,
    store: Any,
    body: dict[str, Any],
) -> None:
    rogue.forge = lambda claims: {"id_token": sign(claims, rogue.key), **body}
    code = await rejected(rogue_login(rp, rogue, rogue_config, store))
    assert code == ErrorCode.TOKEN_EXCHANGE_FAILED


async def test_issuer_parameter_in_the_callback_must_match(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    """RFC 9207 mix-up defence: the response names another issuer."""
    url = await start(rp, rogue_config, store, MUENCHEN)
    params = {**await rogue.authorize(url), "iss": "https://login.example"}
    code = await rejected(rp.complete_login(rogue_config, store, MUENCHEN, params))
    assert code == ErrorCode.WRONG_ISSUER
    assert rogue.hits["token"] == 0, "the code is not even redeemed"


async def test_userinfo_about_someone_else_is_rejected(
    rp: RelyingParty, rogue: RogueProvider, store: Any
) -> None:
    config = ProviderConfig(rogue.issuer, rogue.client_id, rogue.client_secret, fetch_userinfo=True)
    identity = await rogue_login(rp, rogue, config, store)
    assert identity.claims["locale"] == "de-DE" and identity.claims["iss"] == rogue.issuer
    rogue.userinfo_overrides = {"sub": "somebody-else", "iss": "forged"}
    assert await rejected(rogue_login(rp, rogue, config, store)) == ErrorCode.USERINFO_MISMATCH


# --- discovery ------------------------------------------------------------------------


async def test_discovery_issuer_must_match_exactly(
    rp: RelyingParty, rogue: RogueProvider, store: Any
) -> None:
    # The same provider configured with a trailing slash is not the same issuer.
    config = ProviderConfig(rogue.issuer + "/", rogue.client_id, rogue.client_secret)
    code = await rejected(rp.begin_login(config, MUENCHEN))
    assert code == ErrorCode.WRONG_ISSUER


async def test_discovery_with_insecure_endpoint_is_rejected(
    rp: RelyingParty, rogue: RogueProvider, rogue_config: ProviderConfig
) -> None:
    rogue.discovery_overrides = {"token_endpoint": "http://tokens.example/token"}
    assert await rejected(rp.begin_login(rogue_config, MUENCHEN)) == ErrorCode.DISCOVERY_FAILED


async def test_unreachable_provider_is_a_discovery_failure(rp: RelyingParty) -> None:
    config = ProviderConfig("http://127.0.0.1:9", "client", "secret")
    assert await rejected(rp.begin_login(config, MUENCHEN)) == ErrorCode.DISCOVERY_FAILED


async def test_discovery_and_key_set_are_cached_until_the_ttl(
    rogue: RogueProvider, rogue_config: ProviderConfig, store: Any
) -> None:
    now = [time.time()]
    async with RelyingParty(clock=lambda: now[0], discovery_ttl=300, jwks_ttl=300) as rp:
        await rogue_login(rp, rogue, rogue_config, store)
        await rogue_login(rp, rogue, rogue_config, store)
        assert (rogue.hits["discovery"], rogue.hits["jwks"]) == (1, 1)
        now[0] += 301
        await rp.begin_login(rogue_config, MUENCHEN)
        await rp.keys.key_for(f"{rogue.issuer}/jwks", "RS256", rogue.key.kid)
        assert (rogue.hits["discovery"], rogue.hits["jwks"]) == (2, 2)


# --- configuration and profile --------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"algorithms": ("none",)}, "algorithms"),
        ({"algorithms": ("RS256", "HS256")}, "algorithms"),
        ({"algorithms": ()}, "algorithms"),
        ({"issuer": "http://login.example"}, "https"),
        ({"issuer": "https://login.example?tenant=1"}, "query"),
        ({"client_secret": ""}, "client_secret"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "auth"),
    ],
)
def test_provider_config_refuses_unsafe_settings(changes: dict[str, Any], problem: str) -> None:
    values = {"issuer": "https://login.example", "client_id": "c", "client_secret": "s"}
    with pytest.raises(ValueError, match=problem):
        ProviderConfig(**(values | changes))


def test_provider_config_always_asks_for_openid_and_hides_the_secret() -> None:
    config = ProviderConfig("https://login.example", "c", "top-secret", scopes=("email",))
    assert config.scopes == ("openid", "email")
    assert "top-secret" not in repr(config)


def test_config_from_record_reads_the_secret_from_the_environment() -> None:
    record = SimpleNamespace(
        issuer="https://login.example", client_id="c", client_secret_env="SSO_SECRET", scopes=[]
    )
    config = config_from_record(record, {"SSO_SECRET": "from-env"})
    assert config.client_secret == "from-env"
    assert config.scopes == ("openid", "email", "profile")
    with pytest.raises(OIDCError) as caught:
        config_from_record(record, {})
    assert caught.value.code == ErrorCode.MISCONFIGURED


def test_leeway_above_sixty_seconds_is_refused() -> None:
    with pytest.raises(ValueError, match="leeway"):
        RelyingParty(leeway=61)


async def test_extra_params_cannot_replace_state_or_pkce(
    rp: RelyingParty, rogue_config: ProviderConfig
) -> None:
    url, _ = await rp.begin_login(rogue_config, MUENCHEN, extra_params={"ui_locales": "de"})
    assert dict(parse_qsl(urlsplit(url).query))["ui_locales"] == "de"
    with pytest.raises(ValueError, match="state"):
        await rp.begin_login(rogue_config, MUENCHEN, extra_params={"state": "mine"})


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        (
            {"name": "Anna K.", "email": "a@x.org", "email_verified": True, "locale": "de_DE"},
            ("Anna K.", "a@x.org", True, "de-DE"),
        ),
        (
            {"given_name": "Omar", "family_name": "Haddad", "email": "o@x.org"},
            ("Omar Haddad", "o@x.org", False, None),
        ),
        (
            {"preferred_username": "ohaddad", "email_verified": "true"},
            ("ohaddad", None, False, None),
        ),
        (
            {"email": "e@x.org", "email_verified": "true", "locale": "<script>"},
            (None, "e@x.org", True, None),
        ),
        ({"name": 42, "email": ["a@x.org"], "email_verified": 1}, (None, None, False, None)),
    ],
)
def test_default_profile(claims: dict[str, Any], expected: tuple[Any, ...]) -> None:
    profile = default_profile(claims)
    assert (profile.name, profile.email, profile.email_verified, profile.locale) == expected
