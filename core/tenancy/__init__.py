"""Tenants: who they are, how a request finds its tenant, and the tenants/ files."""
