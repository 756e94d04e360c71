"""Identity: the tenant's single sign-on providers (and, later, users and sessions)."""
