"""Build the dramatiq broker from ``TANDEM_BROKER_URL`` and declare the actors on it."""

from __future__ import annotations

from urllib.parse import urlsplit

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications

from core.jobs.actors import REGISTRY


class BrokerURLError(ValueError):
    pass


def build_broker(url: str) -> dramatiq.Broker:
    """``redis://…`` → Redis, ``amqp://…`` → RabbitMQ, empty → in-memory (in-process worker)."""
    middleware = [
        AgeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(min_backoff=1000, max_backoff=300_000),
    ]
    scheme = urlsplit(url).scheme if url else ""
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
    """A cheap liveness probe for /readyz."""
    try:
        if hasattr(broker, "client"):  # Redis
            return bool(broker.client.ping())
        if hasattr(broker, "connection"):  # RabbitMQ: opens (or reuses) this thread's channel
            return broker.connection.is_open
    except Exception:
        return False
    return True
