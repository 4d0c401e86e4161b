"""Security events, logged to ``flask_clerk.security`` (SECURITY.md 5).

Only ids, event names and addresses go into a line: never a password, code,
token or secret. Route the logger wherever the app keeps its audit trail.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("flask_clerk.security")


def security_event(event: str, **fields: str | None) -> None:
    details = " ".join(f"{key}={value}" for key, value in fields.items() if value)
    logger.info("%s %s", event, details, extra={"clerk_event": event, "clerk_fields": fields})
