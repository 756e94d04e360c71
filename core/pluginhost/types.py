"""Values passed to and returned from hooks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class HomeSection:
    """A block on a tenant's home page, rendered from a plugin template."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


@dataclass(frozen=True)
class Event:
    """Something that happened in a tenant, delivered to its plugins by a job.

    ``id`` is stable across redeliveries, so a plugin can use it to act only once.
    """

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    payload: dict[str, Any]
    occurred_at: datetime
