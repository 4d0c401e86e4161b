"""Where a ``redirect_url`` may send the browser: our own paths, or allowlisted origins."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlsplit


def safe_redirect_url(
    value: str | None, *, fallback: str, allowed_origins: Iterable[str] = ()
) -> str:
    """``value`` when it is a same-origin path or on an allowed origin, else ``fallback``.

    Refuses protocol-relative (``//evil.com``), backslash (``/\\evil.com``), scheme
    tricks (``https:evil.com``, ``javascript:``), control characters (tab and
    newline, which browsers strip) and their percent-encoded variants.
    """
    if not value or len(value) > 2048:
        return fallback
    decoded = value
    for _ in range(3):  # catch double encoding such as %252F%252F
        decoded = unquote(decoded)
    if any(ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in value + decoded):
        return fallback
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. "http://[": not a URL at all
        return fallback
    if parts.scheme or parts.netloc:
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        allowed = {o.rstrip("/").lower() for o in allowed_origins}
        if parts.scheme in {"http", "https"} and parts.netloc and origin in allowed:
            return value
        return fallback
    if not value.startswith("/") or decoded.startswith("//") or value.startswith("//"):
        return fallback
    return value
