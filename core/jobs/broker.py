"""Build the dramatiq broker from ``TANDEM_BROKER_URL`` and declare the actors on it."""

from __future__ import annotations

import contextlib
import logging
from urllib.parse import urlsplit

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications

from core.jobs.actors import REGISTRY, JobRuntimeCleanup

log = logging.getLogger(__name__)


class BrokerURLError(ValueError):
    """``TANDEM_BROKER_URL`` names no broker Tandem can use."""


def build_broker(url: str) -> dramatiq.Broker:
    """``redis://…`` → Redis, ``amqp://…`` → RabbitMQ, empty → in-memory (in-process worker)."""
    middleware = [
        AgeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(min_backoff=1000, max_backoff=300_000),
        JobRuntimeCleanup(),
    ]
    url = url.strip()
    scheme = urlsplit(url).scheme.lower() if url else ""
    if scheme in ("redis", "rediss"):
        from dramatiq.brokers.redis import RedisBroker

        broker: dramatiq.Broker = RedisBroker(url=url, middleware=middleware)
    elif scheme in ("amqp", "amqps"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url, middleware=middleware)
    elif not url:
        broker = StubBroker(middleware=middleware)
    else:
        raise BrokerURLError(
            f"TANDEM_BROKER_URL must start with redis://, rediss://, amqp:// or amqps://, "
            f"not {scheme or url!r}"
        )
    declare_actors(broker)
    return broker


def declare_actors(broker: dramatiq.Broker) -> None:
    for actor in REGISTRY.values():
        if actor.name not in broker.actors:
            dramatiq.Actor(
                actor.run,
                broker=broker,
                actor_name=actor.name,
                queue_name=actor.queue_name,
                priority=0,
                options={"max_retries": actor.max_retries},
            )


def broker_is_reachable(broker: dramatiq.Broker) -> bool:
    """A cheap liveness probe for /readyz (the in-memory broker is always reachable)."""
    from dramatiq.brokers.rabbitmq import RabbitmqBroker
    from dramatiq.brokers.redis import RedisBroker

    try:
        if isinstance(broker, RedisBroker):
            return bool(broker.client.ping())
        if isinstance(broker, RabbitmqBroker):
            # Opens (or reuses) this thread's connection; processing pending events
            # notices one the server has closed since.
            connection = broker.connection
            connection.process_data_events(time_limit=0)
            return bool(connection.is_open)
    except Exception as exc:
        log.warning("job broker is unreachable: %s", exc)
        if isinstance(broker, RabbitmqBroker):
            # Forget this thread's broken connection so the next probe opens a new one.
            with contextlib.suppress(Exception):
                del broker.connection
        return False
    return True
