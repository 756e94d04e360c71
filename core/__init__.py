"""Tandem: the platform core (tenancy, plugins, jobs, web)."""
