"""classify_host: the pure mapping from a Host header to what it names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.tenancy.hosts import (
    RESERVED_SLUGS,
    CustomDomain,
    HostKind,
    InvalidHost,
    PlatformHost,
    ReservedHost,
    TenantSubdomain,
    classify_host,
    is_valid_slug,
    normalise_host,
)

BASE = "localhost"
KINDS = (PlatformHost, TenantSubdomain, CustomDomain, ReservedHost, InvalidHost)


@pytest.mark.parametrize(
    "host",
    [
        "muenchen.localhost",
        "muenchen.localhost:8000",
        "muenchen.localhost:1",
        "muenchen.localhost:65535",
        "MUENCHEN.LOCALHOST",
        "Muenchen.Localhost:8000",
        "muenchen.localhost.",
        "muenchen.localhost.:8000",
        "  muenchen.localhost  ",
    ],
)
def test_tenant_subdomain_with_or_without_port_case_or_trailing_dot(host: str) -> None:
    assert classify_host(host, BASE) == TenantSubdomain("muenchen")


@pytest.mark.parametrize(
    ("host", "slug"),
    [
        ("a.localhost", "a"),
        ("x1.localhost", "x1"),
        ("tuer-an-tuer.localhost", "tuer-an-tuer"),
        ("xn--mnchen-3ya.localhost", "xn--mnchen-3ya"),  # punycode is a plain label
        (f"{'a' * 63}.localhost", "a" * 63),
    ],
)
def test_every_valid_label_is_a_tenant_slug(host: str, slug: str) -> None:
    assert classify_host(host, BASE) == TenantSubdomain(slug)


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "LOCALHOST", "localhost."])
def test_base_domain_itself_is_the_platform(host: str) -> None:
    assert classify_host(host, BASE) == PlatformHost()


@pytest.mark.parametrize("name", sorted(RESERVED_SLUGS))
def test_reserved_names_never_become_tenants(name: str) -> None:
    assert classify_host(f"{name}.localhost:8000", BASE) == ReservedHost(name)
    assert classify_host(f"{name.upper()}.localhost", BASE) == ReservedHost(name)
    assert not is_valid_slug(name)


@pytest.mark.parametrize("name", ["www", "admin", "api", "static"])
def test_the_brief_s_reserved_names_are_in_the_list(name: str) -> None:
    assert name in RESERVED_SLUGS


@pytest.mark.parametrize(
    "host",
    [
        "",
        " ",
        "\t",
        ".",
        "..",
        ":8000",
        ".localhost",
        "a b",
        "a b.localhost",
        "-x.localhost",
        "x-.localhost",
        "mu_enchen.localhost",
        "muenchen..localhost",
        "muenchen.localhost..",
        f"{'a' * 64}.localhost",  # a label is at most 63 characters
        ".".join(["a" * 60] * 5),  # a name is at most 253 characters
        "x" * 10_000,
        "münchen.localhost",  # a browser sends punycode, never raw unicode
        "\u212aoeln.localhost",  # Kelvin sign: lower() would turn it into "k"
        "muenchen.localhost\x00",
        "muenchen.localhost/evil",
        "user@muenchen.localhost",
        "muenchen.localhost:",
        "muenchen.localhost:abc",
        "muenchen.localhost:0",
        "muenchen.localhost:99999",
        "muenchen.localhost:123456",
        "muenchen.localhost:8000:8000",
        "[::1]",
        "[::1]:8000",
        "[::1",
        "[]",
        "127.0.0.1",
        "127.0.0.1:8000",
        "1.2.3.4:80",
        "2130706433",  # 127.0.0.1 as one number
        "0x7f.0.0.1",
        "0x7f000001",
        "999.1.1.1",
        "a.b.localhost",
        "muenchen.www.localhost",
        "1.2.3.4.localhost",
    ],
)
def test_garbage_ip_addresses_and_deep_subdomains_are_invalid(host: str) -> None:
    kind = classify_host(host, BASE)
    assert isinstance(kind, InvalidHost), kind
    assert kind.reason  # says why, for logs


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("mentoring.muenchen.de", "mentoring.muenchen.de"),
        ("Mentoring.Muenchen.DE:443", "mentoring.muenchen.de"),
        ("mentoring.muenchen.de.", "mentoring.muenchen.de"),
        ("example.org", "example.org"),
        ("localhost.example.org", "localhost.example.org"),
        ("notlocalhost", "notlocalhost"),  # a suffix match must be on a label boundary
        ("muenchenlocalhost", "muenchenlocalhost"),
    ],
)
def test_other_domains_are_custom_domains(host: str, domain: str) -> None:
    assert classify_host(host, BASE) == CustomDomain(domain)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("tandem.example.org", PlatformHost()),
        ("TANDEM.example.org.:443", PlatformHost()),
        ("muenchen.tandem.example.org", TenantSubdomain("muenchen")),
        ("muenchen.tandem.example.org:8443", TenantSubdomain("muenchen")),
        ("www.tandem.example.org", ReservedHost("www")),
        ("a.b.tandem.example.org", None),
        ("example.org", CustomDomain("example.org")),
        ("muenchen.localhost", CustomDomain("muenchen.localhost")),
        ("localhost", CustomDomain("localhost")),
        (
            "muenchen.tandem.example.org.evil.com",
            CustomDomain("muenchen.tandem.example.org.evil.com"),
        ),
        ("eviltandem.example.org", CustomDomain("eviltandem.example.org")),
    ],
)
def test_a_real_base_domain(host: str, expected: HostKind | None) -> None:
    kind = classify_host(host, "tandem.example.org")
    if expected is None:
        assert isinstance(kind, InvalidHost)
    else:
        assert kind == expected


def test_base_domain_is_compared_case_and_dot_insensitively() -> None:
    assert classify_host("muenchen.tandem.example.org", "Tandem.Example.ORG.") == TenantSubdomain(
        "muenchen"
    )


def test_normalise_host_strips_port_case_and_one_root_dot() -> None:
    assert normalise_host("MuEnchen.LocalHost.:8000") == "muenchen.localhost"
    assert normalise_host("a b") is None


# Host headers arrive decoded as latin-1, so any character may appear.
_host_like = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.:[]_ ", max_size=80),
    st.builds(
        lambda label, port: f"{label}.localhost{port}",
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=70),
        st.sampled_from(["", ":", ":8000", ":99999", ":0", ":abc"]),
    ),
)


@given(_host_like)
def test_never_raises_and_always_returns_one_of_the_kinds(host: str) -> None:
    kind = classify_host(host, BASE)
    assert isinstance(kind, KINDS)
    if isinstance(kind, TenantSubdomain):
        # Whatever came in, a tenant slug that comes out is a clean, unreserved label.
        assert is_valid_slug(kind.slug)
        assert host.strip().lower().startswith(kind.slug + ".localhost")
    if isinstance(kind, CustomDomain):
        assert kind.domain == kind.domain.lower()
        assert kind.domain.isascii()
        assert " " not in kind.domain and ":" not in kind.domain


@given(st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?\Z"))
def test_every_unreserved_slug_round_trips(slug: str) -> None:
    kind = classify_host(f"{slug.upper()}.localhost:8000", BASE)
    # A numeric first label ("123.localhost") is an ordinary slug: only a numeric
    # *last* label makes a name an IP address.
    expected = ReservedHost(slug) if slug in RESERVED_SLUGS else TenantSubdomain(slug)
    assert kind == expected
