"""Classify a Host header. Pure functions: no database, no settings object.

``classify_host("muenchen.localhost:8000", "localhost")`` → ``TenantSubdomain("muenchen")``.
The resolver (``core.tenancy.resolver``) turns the result into a tenant.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# Names that are never a tenant, so that they stay free for the platform.
RESERVED_SLUGS = frozenset(
    {
        "www", "admin", "api", "static", "assets", "app", "mail", "smtp", "imap", "ftp",
        "auth", "login", "sso", "id", "oidc", "status", "health", "docs", "help",
        "support", "platform", "tandem", "dev", "test", "staging", "cdn", "media", "ns1", "ns2",
    }
)  # fmt: skip

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PORT = re.compile(r":([0-9]{1,5})$")
MAX_PORT = 65535
# A last label that is a number makes the whole name an IPv4 address for browsers
# and resolvers (WHATWG URL: "ends in a number"), e.g. "2130706433" or "0x7f.0.0.1".
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")


@dataclass(frozen=True)
class PlatformHost:
    """The base domain itself (``localhost``): the operator's pages."""


@dataclass(frozen=True)
class TenantSubdomain:
    slug: str


@dataclass(frozen=True)
class CustomDomain:
    domain: str


@dataclass(frozen=True)
class ReservedHost:
    name: str


@dataclass(frozen=True)
class InvalidHost:
    reason: str


HostKind = PlatformHost | TenantSubdomain | CustomDomain | ReservedHost | InvalidHost


def normalise_host(raw: str) -> str | None:
    """Lower-case, strip the port and a trailing dot; ``None`` when not a hostname."""
    # ASCII first: str.lower() maps some non-ASCII letters to ASCII ones (the
    # Kelvin sign to "k"), which would let a look-alike host name a real tenant.
    if not raw.isascii():
        return None
    host = raw.strip().lower()
    if not host or len(host) > 260:
        return None
    if host.startswith("["):  # IPv6 literal, possibly with a port
        end = host.find("]")
        return host[: end + 1] if end > 0 else None
    port = _PORT.search(host)
    if port:
        if not 0 < int(port.group(1)) <= MAX_PORT:
            return None
        host = host[: port.start()]
    host = host.removesuffix(".")  # one root dot only; "a.." is no name
    if not host or len(host) > 253:
        return None
    if not all(_LABEL.match(label) for label in host.split(".")):
        return None
    return host


def is_valid_slug(slug: str) -> bool:
    return bool(SLUG_PATTERN.match(slug)) and slug not in RESERVED_SLUGS


def classify_host(raw_host: str, base_domain: str) -> HostKind:
    host = normalise_host(raw_host)
    if host is None:
        return InvalidHost("not a valid host name")
    if host.startswith("[") or _is_ip(host):
        return InvalidHost("an IP address names no tenant")
    if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        return InvalidHost("a numeric name is an IP address, not a domain")
    base_domain = base_domain.strip().lower().rstrip(".")
    if host == base_domain:
        return PlatformHost()
    suffix = "." + base_domain
    if host.endswith(suffix):
        label = host[: -len(suffix)]
        if "." in label:
            return InvalidHost("only one level of subdomain names a tenant")
        if label in RESERVED_SLUGS:
            return ReservedHost(label)
        if not SLUG_PATTERN.match(label):
            return InvalidHost("not a valid tenant name")
        return TenantSubdomain(label)
    return CustomDomain(host)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
