"""Database layer: declarative base, tenant-scoped sessions, migrations."""
