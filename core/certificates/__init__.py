"""Certificates: templates from plugins, PDFs for completed tandems, public verification."""
