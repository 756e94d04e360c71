"""Probes for load balancers and orchestrators; they answer on any host."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import dramatiq
from litestar import HttpMethod, Response, route
from litestar.di import NamedDependency
from sqlalchemy import text

from core.db.sessions import Database
from core.jobs.broker import broker_is_reachable

log = logging.getLogger(__name__)

# HEAD too: many load balancers probe with it.
PROBE_METHODS = [HttpMethod.GET, HttpMethod.HEAD]


@route("/healthz", http_method=PROBE_METHODS, name="healthz", tags=["operations"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@route("/readyz", http_method=PROBE_METHODS, name="readyz", tags=["operations"])
async def readyz(
    db: NamedDependency[Database], broker: NamedDependency[dramatiq.Broker]
) -> Response[dict[str, Any]]:
    """Readiness: the database and the job broker are reachable."""
    checks = {
        "database": await _database_ok(db),
        "broker": await asyncio.to_thread(broker_is_reachable, broker),
    }
    ready = all(checks.values())
    return Response(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {name: "ok" if ok else "failing" for name, ok in checks.items()},
        },
        status_code=200 if ready else 503,
    )


async def _database_ok(db: Database) -> bool:
    try:
        async with asyncio.timeout(3), db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; say which in the log
        log.warning("readiness: database unreachable: %r", exc)
        return False
    return True
