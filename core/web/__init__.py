"""The web layer: Litestar app, site resolution, templates, pages and the JSON API."""
