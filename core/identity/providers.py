"""A tenant's identity providers: naming rules, stored client secrets and their rotation.

Providers come from two places (``IdentityProvider.source``):

* ``"file"``: a ``[[identity_providers]]`` entry of the tenant's file, created, changed
  and removed by ``tandem tenants sync`` only. Its secret is always an environment
  variable, set by the platform's operators.
* ``"admin"``: added on ``/admin/identity-providers`` by the tenant's coordinators. Its
  secret is either pasted there and stored encrypted (:mod:`core.crypto`, bound to the
  tenant and the provider id by :func:`core.identity.oidc.client_secret_context`), or
  an environment variable in the tenant's own namespace (:func:`env_prefix`): a
  coordinator chooses the issuer, so naming any variable would let them have
  another tenant's secret, or the platform's, sent to a server of theirs.

:func:`rotate_client_secrets` re-encrypts every stored secret with the current key
(``tandem secrets rotate``), all or nothing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select

from core.crypto import Keyring, SecretBoxError
from core.db.sessions import Database
from core.identity.models import IdentityProvider
from core.identity.oidc import client_secret_context
from core.tenancy.models import Tenant

SOURCE_FILE = "file"
SOURCE_ADMIN = "admin"
# A provider's id is part of its callback URL (/login/oidc/<id>/callback).
PROVIDER_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ENV_NAME_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]*$")
MAX_ENV_NAME_LENGTH = 128  # the column's length
ENV_NAMESPACE = "TANDEM_OIDC_"


def env_prefix(tenant_slug: str) -> str:
    """How the names of the variables a tenant's coordinators may use begin."""
    return f"{ENV_NAMESPACE}{tenant_slug.upper().replace('-', '_')}_"


def env_name_owner(name: str, slugs: list[str]) -> str | None:
    """The tenant whose namespace ``name`` lies in (the longest prefix wins: with tenants
    ``a`` and ``a-b``, ``TANDEM_OIDC_A_B_SECRET`` is ``a-b``'s), or None."""
    owners = [slug for slug in slugs if name.startswith(env_prefix(slug))]
    return max(owners, key=len) if owners else None


def encrypt_client_secret(
    keyring: Keyring, tenant_id: uuid.UUID, provider_id: str, secret: str
) -> str:
    return keyring.encrypt(secret, client_secret_context(tenant_id, provider_id))


def decrypt_client_secret(keyring: Keyring, row: IdentityProvider) -> str:
    if row.client_secret_encrypted is None:
        raise ValueError(f"identity provider {row.provider_id!r} has no stored secret")
    context = client_secret_context(row.tenant_id, row.provider_id)
    return keyring.decrypt(row.client_secret_encrypted, context)


@dataclass
class RotationReport:
    """``tenant-slug/provider-id`` of each stored secret, by what happened to it."""

    rotated: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)

    def lines(self) -> list[str]:
        out = [f"{name}: re-encrypted" for name in self.rotated]
        out += [f"{name}: already encrypted with the current key" for name in self.current]
        out += [f"{name}: cannot be decrypted: {reason}" for name, reason in self.failed]
        return out


class RotationFailed(Exception):
    def __init__(self, report: RotationReport) -> None:
        super().__init__("some stored secrets cannot be decrypted; nothing was changed")
        self.report = report


async def rotate_client_secrets(
    db: Database, keyring: Keyring, *, dry_run: bool = False
) -> RotationReport:
    """Re-encrypt every stored client secret with ``keyring``'s current key.

    One transaction over all tenants: if any secret does not decrypt (its key was
    removed too early, or the row was tampered with) nothing changes and
    :class:`RotationFailed` lists them.
    """
    keyring.current_key_id  # noqa: B018 - EncryptionKeysMissing before anything is read
    report = RotationReport()
    async with db.engine.connect() as conn:
        transaction = await conn.begin()
        try:
            platform = db.platform_session(bind=conn)
            tenants = list(await platform.scalars(select(Tenant).order_by(Tenant.slug)))
            await platform.close()
            for tenant in tenants:
                session = db.tenant_session(tenant.id, bind=conn)
                query = (
                    select(IdentityProvider)
                    .where(IdentityProvider.client_secret_encrypted.is_not(None))
                    .order_by(IdentityProvider.provider_id)
                )
                for row in await session.scalars(query):
                    _rotate(keyring, tenant.slug, row, report)
                await session.flush()
                await session.close()
        except BaseException:
            await transaction.rollback()
            raise
        if report.failed:
            await transaction.rollback()
            raise RotationFailed(report)
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
    return report


def _rotate(keyring: Keyring, slug: str, row: IdentityProvider, report: RotationReport) -> None:
    name = f"{slug}/{row.provider_id}"
    try:
        secret = decrypt_client_secret(keyring, row)
    except SecretBoxError as error:
        report.failed.append((name, str(error)))
        return
    assert row.client_secret_encrypted is not None  # decrypted above
    if keyring.is_current(row.client_secret_encrypted):
        report.current.append(name)
        return
    row.use_encrypted_secret(encrypt_client_secret(keyring, row.tenant_id, row.provider_id, secret))
    report.rotated.append(name)


__all__ = [
    "ENV_NAMESPACE",
    "ENV_NAME_PATTERN",
    "PROVIDER_ID_PATTERN",
    "SOURCE_ADMIN",
    "SOURCE_FILE",
    "RotationFailed",
    "RotationReport",
    "decrypt_client_secret",
    "encrypt_client_secret",
    "env_name_owner",
    "env_prefix",
    "rotate_client_secrets",
]
