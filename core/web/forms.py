"""Reading submitted form fields safely."""

from __future__ import annotations

from typing import Any


def form_text(form: Any, key: str, max_length: int) -> str:
    """The field's text, stripped and cut to ``max_length``; "" when missing or a file.

    Cutting before checking keeps validation cheap whatever a client sends; the
    check that follows then reports the value as too long or invalid.
    """
    value = form.get(key)
    return value.strip()[:max_length] if isinstance(value, str) else ""
