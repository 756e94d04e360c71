"""Languages: message catalogues and choosing a request's locale."""


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated later, where the locale is known."""
    return message
