"""Programmes (a tenant's mentoring offer) and their cohorts (one intake each)."""
