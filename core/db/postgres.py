"""PostgreSQL's second wall: row-level security on every tenant-owned table.

The policy compares ``tenant_id`` with the transaction-local setting
``app.tenant_id``; with no tenant set the comparison is NULL and no row is visible
or writable. ``FORCE`` applies it even to the table owner, and the application
connects as a role that owns no table and has no ``BYPASSRLS``.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

POLICY_NAME = "tenant_isolation"
TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def enable_tenant_rls(conn: Connection, table: str) -> None:
    conn.execute(text(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY'))
    conn.execute(text(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY'))
    conn.execute(
        text(
            f'CREATE POLICY {POLICY_NAME} ON "{table}" '
            f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})"
        )
    )


def disable_tenant_rls(conn: Connection, table: str) -> None:
    conn.execute(text(f'DROP POLICY IF EXISTS {POLICY_NAME} ON "{table}"'))
    conn.execute(text(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY'))
    conn.execute(text(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY'))


def grant_app_role(conn: Connection, role: str) -> None:
    """Give the application role data access (never ownership) to every table."""
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
    if not exists:
        return
    quoted = conn.dialect.identifier_preparer.quote(role)
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
    conn.execute(
        text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}")
    )
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}"))
    conn.execute(text(f"REVOKE ALL ON alembic_version FROM {quoted}"))


def create_app_role(conn: Connection, role: str, password: str | None = None) -> None:
    """Create (or update) the login role the application connects as."""
    quoted = conn.dialect.identifier_preparer.quote(role)
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
    options = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
    verb = "ALTER" if exists else "CREATE"
    conn.execute(text(f"{verb} ROLE {quoted} {options}"))
    if password is not None:
        _set_password(conn, quoted, password)


def _set_password(conn: Connection, quoted_role: str, password: str) -> None:
    # ALTER ROLE takes no bind parameters: the server quotes the password as a
    # literal, and the statement goes through the driver's cursor unprocessed so
    # that no character in it (%, :, $) is taken for a placeholder.
    literal = conn.execute(
        text("SELECT quote_literal(CAST(:p AS text))"), {"p": password}
    ).scalar_one()
    cursor = conn.connection.cursor()
    try:
        cursor.execute(f"ALTER ROLE {quoted_role} PASSWORD {literal}")
    finally:
        cursor.close()
