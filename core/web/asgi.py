"""ASGI entry point for servers: ``uvicorn core.web.asgi:app``."""

from core.web.app import create_app

app = create_app()
