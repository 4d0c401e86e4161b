"""Outbound webhooks: endpoints, the transactional outbox, and Svix-format delivery.

:func:`emit` writes the event (Clerk's envelope) and one delivery row per
matching endpoint into the caller's transaction: the change and its event commit
together or not at all. :func:`deliver_due` is the worker's step: it leases due
deliveries (so two workers never send the same attempt at once; a worker killed
mid-delivery lets its lease expire and the message goes again with the same
``svix-id``), POSTs them signed exactly as Svix does, records every attempt and
schedules retries like Svix: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
10 h, then failed.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload
from svix.webhooks import Webhook

from ..errors import ClerkError, NotFound
from ..ids import new_id
from . import clock
from .instance import Instance, RequestInfo
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from .serializers import email_json

# Seconds to wait before each retry (Svix's schedule); a little jitter on top.
RETRY_SCHEDULE = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
TIMEOUT = 15.0
SEND_CONCURRENCY = 8  # requests of one batch in flight at once
DISABLE_AFTER = timedelta(days=5)
ROTATED_SECRET_LIFETIME = timedelta(hours=24)


def new_secret() -> str:
    """``whsec_`` + 32 random bytes, base64 (what Svix's verifier expects)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# --- Endpoints ------------------------------------------------------------------------------


def add_endpoint(instance: Instance, db: DbSession, url: str, *,
                 event_types: Iterable[str] = (), description: str | None = None
                 ) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        id=new_id("ep"), url=check_url(instance, url), secret=new_secret(),
        event_types=sorted(set(event_types)), enabled=True, description=description,
    )
    db.add(endpoint)
    db.commit()
    instance.forget_webhook_endpoints()
    return endpoint


def endpoint(db: DbSession, endpoint_id: str) -> WebhookEndpoint:
    found = db.get(WebhookEndpoint, endpoint_id)
    if found is None:
        raise NotFound("resource_not_found")
    return found


def update_endpoint(instance: Instance, db: DbSession, endpoint_id: str, *,
                    url: str | None = None, event_types: Iterable[str] | None = None,
                    enabled: bool | None = None, description: str | None = None
                    ) -> WebhookEndpoint:
    found = endpoint(db, endpoint_id)
    if url is not None:
        found.url = check_url(instance, url)
    if event_types is not None:
        found.event_types = sorted(set(event_types))
    if enabled is not None:
        found.enabled = enabled
        if enabled:
            found.failing_since, found.disabled_reason = None, None
    if description is not None:
        found.description = description or None
    db.commit()
    instance.forget_webhook_endpoints()
    return found


def rotate_secret(db: DbSession, endpoint_id: str) -> WebhookEndpoint:
    """A new secret; deliveries are signed with both for a day, so the receiver can
    switch without losing any."""
    found = endpoint(db, endpoint_id)
    found.previous_secret = found.secret
    found.previous_secret_expires_at = clock.now() + ROTATED_SECRET_LIFETIME
    found.secret = new_secret()
    db.commit()
    return found


def remove_endpoint(instance: Instance, db: DbSession, endpoint_id: str) -> None:
    db.delete(endpoint(db, endpoint_id))
    db.commit()
    instance.forget_webhook_endpoints()


def check_url(instance: Instance, url: str) -> str:
    """An http(s) URL whose host is public, unless CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS:
    the engine must not be turned into a probe of the network it runs in."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ClerkError("webhook_url_invalid", field="url") from None
    if parts.scheme not in {"https", "http"} or not parts.hostname or len(url) > 2048:
        raise ClerkError("webhook_url_invalid", field="url")
    if not instance.settings.webhooks_allow_private_urls and not _public_host(
            parts.hostname, port or (443 if parts.scheme == "https" else 80)):
        raise ClerkError("webhook_url_private", field="url")
    return url


def _public_host(host: str, port: int) -> bool:
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, port)}
    except (OSError, UnicodeError):
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_global
                                   for a in addresses)


# --- The outbox -------------------------------------------------------------------------------


def emit(instance: Instance, db: DbSession, event_type: str,
         data: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
         request: RequestInfo | None = None) -> WebhookMessage | None:
    """Write ``event_type`` with ``data`` (a Clerk JSON object, or a function making
    it, only called when someone listens) into the outbox, in the caller's
    transaction (the caller commits). Nothing when no endpoint wants it."""
    endpoints = [endpoint_id for endpoint_id, kinds in instance.webhook_endpoints()
                 if not kinds or event_type in kinds]
    if not endpoints:
        return None
    now = clock.now()
    envelope = {
        "data": dict(data() if callable(data) else data),
        "object": "event",
        "type": event_type,
        "timestamp": clock.unix_ms(now),
        "instance_id": instance.settings.instance_id,
        "event_attributes": {"http_request": {
            "client_ip": request.ip_address if request else None,
            "user_agent": request.user_agent if request else None,
        }},
    }
    message = WebhookMessage(id=new_id("msg"), event_type=event_type, created_at=now,
                             payload=json.dumps(envelope, separators=(",", ":")))
    db.add(message)
    for endpoint_id in endpoints:
        db.add(WebhookDelivery(id=new_id("dlv"), message_id=message.id, endpoint_id=endpoint_id,
                               status="pending", attempts=0, next_attempt_at=now,
                               created_at=now))
    db.info["clerk_webhooks_pending"] = True  # wakes the in-process worker after commit
    return message


def mail_sent(instance: Instance, db: DbSession, to: str, subject: str, text: str, *,
              user_id: str | None = None) -> None:
    """The ``email.created`` event of a mail the instance sends (committed with the
    change that sends it; the mail itself goes after the commit). It carries the
    text, codes included, as Clerk's does: subscribe endpoints that should not see
    them to other event types."""
    emit(instance, db, "email.created", email_json(
        new_id("ema"), sender=instance.settings.mail_sender, to=to, subject=subject,
        text=text, user_id=user_id))


def deleted(object_name: str, object_id: str) -> dict[str, Any]:
    """The ``data`` of a ``*.deleted`` event."""
    return {"object": object_name, "id": object_id, "deleted": True}


# --- Delivery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    retry_after: int | None = None


Sender = Callable[[str, bytes, dict[str, str]], Response]


_client: Any = None
_client_pid = 0
_client_lock = threading.Lock()


def _http_client() -> Any:
    """One pooled client per process (keep-alive; SSL set up once, not per POST)."""
    global _client, _client_pid
    import httpx

    with _client_lock:
        if _client is None or _client_pid != os.getpid():
            _client = httpx.Client(timeout=TIMEOUT, follow_redirects=False,
                                   limits=httpx.Limits(max_connections=SEND_CONCURRENCY * 2))
            _client_pid = os.getpid()
        return _client


def http_sender(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST with a 15 s timeout; redirects are not followed (a 3xx is a failure)."""
    answer = _http_client().post(url, content=body, headers=headers)
    retry_after = answer.headers.get("retry-after")
    return Response(answer.status_code, answer.text[:1000],
                    int(retry_after) if retry_after and retry_after.isdigit() else None)


def sign(message: WebhookMessage, target: WebhookEndpoint, at: datetime) -> dict[str, str]:
    """Svix's headers: the same ``svix-id`` on every attempt, the attempt's timestamp,
    and ``v1`` signatures with the secret (and a rotated-out one still in its grace)."""
    body = message.payload
    signatures = [Webhook(target.secret).sign(message.id, at, body)]
    if target.previous_secret and target.previous_secret_expires_at and (
            target.previous_secret_expires_at > at):
        signatures.append(Webhook(target.previous_secret).sign(message.id, at, body))
    return {"svix-id": message.id, "svix-timestamp": str(int(at.timestamp())),
            "svix-signature": " ".join(signatures), "content-type": "application/json",
            "user-agent": "flask_clerk-webhooks/1"}


def deliver_due(instance: Instance, *, limit: int = 50, send: Sender = http_sender) -> int:
    """Lease a batch of due deliveries, send them (several at once), record every
    attempt; how many were sent.

    The attempts of a batch are recorded in one commit: a worker that dies before
    it lets its lease run out, and those messages go again, same ``svix-id``.
    """
    leased = _lease(instance, limit)
    if not leased:
        return 0
    with instance.store.session() as db:
        batch = db.scalars(select(WebhookDelivery)
                           .options(joinedload(WebhookDelivery.message),
                                    joinedload(WebhookDelivery.endpoint))
                           .where(WebhookDelivery.id.in_(leased))).all()
        now = clock.now()
        requests = [(d, _request(instance, d, now)) for d in batch if d.status == "pending"]
        workers = min(SEND_CONCURRENCY, len(requests)) or 1
        with ThreadPoolExecutor(workers, thread_name_prefix="flask_clerk-send") as pool:
            outcomes = list(pool.map(lambda item: _send(send, item[1]), requests))
        for (delivery, _), (answer, error, duration) in zip(requests, outcomes, strict=True):
            _record(db, delivery, answer, error, duration, now)
        db.commit()
    return len(leased)


def _lease(instance: Instance, limit: int) -> list[str]:
    """Take up to ``limit`` due deliveries for ``CLERK_WEBHOOKS_LEASE`` seconds with one
    UPDATE (rows another worker holds are skipped: ``SKIP LOCKED`` on PostgreSQL, the
    write lock on SQLite)."""
    now = clock.now()
    due = (WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
           or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now))
    candidates = (select(WebhookDelivery.id).where(*due)
                  .order_by(WebhookDelivery.next_attempt_at).limit(limit)
                  .with_for_update(skip_locked=True).scalar_subquery())
    with instance.store.session() as db:
        leased = list(db.scalars(
            update(WebhookDelivery).where(WebhookDelivery.id.in_(candidates), *due)
            .values(lease_until=now + timedelta(seconds=instance.settings.webhooks_lease))
            .returning(WebhookDelivery.id)))
        db.commit()
    return leased


@dataclass(frozen=True)
class _Request:
    url: str
    body: bytes
    headers: dict[str, str]
    refused: str | None  # why it is not sent at all


def _request(instance: Instance, delivery: WebhookDelivery, now: datetime) -> _Request:
    target, message = delivery.endpoint, delivery.message
    refused = None if target.enabled else "endpoint disabled"
    if refused is None:
        try:
            check_url(instance, target.url)  # again: DNS may point elsewhere now
        except ClerkError as error:
            refused = error.code
    return _Request(target.url, message.payload.encode(), sign(message, target, now), refused)


def _send(send: Sender, request: _Request) -> tuple[Response | None, str | None, int]:
    if request.refused:
        return None, request.refused, 0
    started = time.monotonic()
    try:
        answer: Response | None = send(request.url, request.body, request.headers)
        error = None
    except Exception as exc:  # noqa: BLE001 - any transport failure is a failure
        answer, error = None, f"{type(exc).__name__}: {exc}"[:500]
    return answer, error, int((time.monotonic() - started) * 1000)


def _record(db: DbSession, delivery: WebhookDelivery, answer: Response | None,
            error: str | None, duration_ms: int, now: datetime) -> None:
    db.add(WebhookAttempt(
        id=new_id("atmpt"), delivery_id=delivery.id, attempted_at=now, error=error,
        duration_ms=duration_ms, status_code=answer.status if answer else None,
        response_excerpt=answer.body[:1000] if answer else None,
    ))
    delivery.attempts += 1
    delivery.lease_until = None
    if answer is not None and 200 <= answer.status < 300:
        delivery.status = "succeeded"
        delivery.endpoint.failing_since = None
    else:
        _failed(delivery, delivery.endpoint, answer, now)


def _failed(delivery: WebhookDelivery, target: WebhookEndpoint, answer: Response | None,
            now: datetime) -> None:
    target.failing_since = target.failing_since or now
    if answer is not None and answer.status == 410:
        target.enabled, target.disabled_reason = False, "410 Gone"
    elif now - target.failing_since >= DISABLE_AFTER:
        target.enabled, target.disabled_reason = False, "failing for 5 days"
    if not target.enabled or delivery.attempts >= len(RETRY_SCHEDULE):
        delivery.status = "failed"
        return
    wait = RETRY_SCHEDULE[delivery.attempts] * random.uniform(1.0, 1.1)  # noqa: S311 - jitter
    if answer is not None and answer.retry_after:
        wait = max(wait, answer.retry_after)
    delivery.next_attempt_at = now + timedelta(seconds=wait)


def recent_deliveries(db: DbSession, *, failed_only: bool = False, limit: int = 20
                      ) -> list[tuple[WebhookDelivery, WebhookAttempt | None]]:
    """The newest deliveries with their last attempt (``failed_only``: given up on)."""
    query = (select(WebhookDelivery).options(joinedload(WebhookDelivery.message))
             .order_by(WebhookDelivery.created_at.desc()).limit(limit))
    if failed_only:
        query = query.where(WebhookDelivery.status == "failed")
    result = []
    for delivery in db.scalars(query):
        last = db.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                          .order_by(WebhookAttempt.attempted_at.desc()).limit(1)).first()
        result.append((delivery, last))
    return result


def replay(db: DbSession, *, endpoint_id: str | None = None,
           message_id: str | None = None) -> int:
    """Send failed deliveries (of one endpoint, or one message) again from the start."""
    query = update(WebhookDelivery).where(WebhookDelivery.status == "failed")
    if endpoint_id:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if message_id:
        query = query.where(WebhookDelivery.message_id == message_id)
    count: int = db.execute(query.values(  # type: ignore[attr-defined]
        status="pending", attempts=0, next_attempt_at=clock.now(), lease_until=None)).rowcount
    db.commit()
    return count
