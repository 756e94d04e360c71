"""Which real services the suite can reach, and what to do when one is missing.

With ``TANDEM_REQUIRE_SERVICES=1`` (CI) a missing service fails the tests that need
it; otherwise they are skipped with the reason.
"""

from __future__ import annotations

import os
import socket
from functools import cache

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "TANDEM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TANDEM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get("TANDEM_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def services_required() -> bool:
    return os.environ.get("TANDEM_REQUIRE_SERVICES", "") not in ("", "0", "false")


@cache
def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def need(service: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) the current test when ``service`` is unreachable."""
    if reachable(host, port):
        return
    message = f"{service} is not reachable on {host}:{port}"
    if services_required():
        pytest.fail(f"{message} and TANDEM_REQUIRE_SERVICES is set")
    pytest.skip(message)


def need_postgres() -> None:
    need("PostgreSQL", "127.0.0.1", 5432)


def need_redis() -> None:
    need("Redis", "127.0.0.1", 6379)


def need_rabbitmq() -> None:
    need("RabbitMQ", "127.0.0.1", 5672)
