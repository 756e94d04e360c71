"""Thin controllers: read the request, call a service, render a page or JSON."""
