"""Test-run speed-ups that leave what the tests exercise unchanged.

Most tests build their own application (``core.web.app.create_app``), so that nothing of
one test's app (its database engine, broker, OpenID client, mail settings) leaks into the
next. About half of building one is Litestar parsing the signature of each of the ~300
route handlers: ``inspect.signature`` plus ``typing.get_type_hints``, which evaluates
every string annotation again. The result depends only on the function and the names it
is resolved against, and it is immutable (frozen dataclasses), so the suite parses each
module-level handler once per worker and hands the same result to every later app.
"""

from __future__ import annotations

import inspect
from typing import Any

from litestar.utils.signature import ParsedSignature

_Key = tuple[object, tuple[tuple[str, int], ...]]


def memoize_handler_signatures() -> None:
    """Cache :meth:`ParsedSignature.from_fn` for functions defined at module level.

    Functions made inside another (the ``Provide(lambda: db)`` dependencies of each app)
    are parsed every time: caching them would keep every test's app alive.
    """
    original = ParsedSignature.from_fn.__func__  # type: ignore[attr-defined]
    if getattr(original, "_tandem_memoized", False):
        return
    # The key holds the namespace's values by identity; the entry keeps them alive, so
    # an identity is never reused for another object while the entry exists.
    cache: dict[_Key, tuple[ParsedSignature, dict[str, Any]]] = {}

    def from_fn(
        cls: type[ParsedSignature], fn: Any, signature_namespace: dict[str, Any]
    ) -> ParsedSignature:
        if "<locals>" in getattr(fn, "__qualname__", "<locals>") or cls is not ParsedSignature:
            return original(cls, fn, signature_namespace)
        try:
            # A controller's handlers are methods bound to a new controller per app; what
            # is parsed (the signature without ``self``) is the same function's.
            target = ("bound", fn.__func__) if inspect.ismethod(fn) else fn
            names = tuple(sorted((k, id(v)) for k, v in signature_namespace.items()))
            key: _Key = (target, names)
            hit = cache.get(key)
        except TypeError:  # an unhashable callable
            return original(cls, fn, signature_namespace)
        if hit is None:
            hit = cache[key] = (original(cls, fn, signature_namespace), dict(signature_namespace))
        return hit[0]

    from_fn._tandem_memoized = True  # type: ignore[attr-defined]
    ParsedSignature.from_fn = classmethod(from_fn)  # type: ignore[method-assign, assignment]
