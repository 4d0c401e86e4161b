"""Receiving webhooks: Clerk's (or a flask_clerk engine's) Svix-signed events.

    webhooks = ClerkWebhooks(app, url="/webhooks/clerk")   # or init_app in a factory

    @webhooks.on("user.created", "user.updated")
    def upsert_user(event):
        ...

Each POST is verified with the ``svix`` library against
``CLERK_WEBHOOK_SIGNING_SECRET`` (or ``CLERK_WEBHOOK_SECRET``): a bad signature
or a timestamp more than five minutes off answers 400 and runs nothing. A
message (``svix-id``) runs its handlers once: a redelivery of a processed one is
acknowledged (200) without running them again, one that arrives while the first
is still running is asked to come back later (409, the sender retries). A handler
that raises gives 500, so the sender retries; handlers should still be idempotent
and tolerate events out of order (compare ``updated_at``), as Clerk recommends.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, jsonify, request
from svix.webhooks import Webhook, WebhookVerificationError
from werkzeug.wrappers import Response

from .errors import ClerkConfigError

Handler = Callable[[dict[str, Any]], Any]
logger = logging.getLogger("flask_clerk.webhooks")


class ClerkWebhooks:
    def __init__(self, app: Flask | None = None, *, url: str = "/webhooks/clerk") -> None:
        self.url = url
        self._handlers: dict[str, list[Handler]] = {}
        self.user_sync: UserSync | None = None
        if app is not None:
            self.init_app(app)

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        """Register a handler for these event types (``"*"``: every event)."""

        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                self._handlers.setdefault(event_type, []).append(handler)
            return handler

        return register

    def sync_users(
        self, *, upsert: Callable[[dict[str, Any]], str | None],
        delete: Callable[[str, int], Any], known_ids: Callable[[], Iterable[str]],
    ) -> None:
        """Keep the app's users table with three functions, used by the webhooks
        (``user.created``/``updated``/``deleted``) and by ``flask clerk sync``:

        - ``upsert(user)`` takes a Clerk User object and returns ``"created"``,
          ``"updated"`` or None (nothing changed, or ``user`` is older than the row);
        - ``delete(user_id, at_ms)`` removes (or soft-deletes) a user;
        - ``known_ids()`` lists the user ids the app has rows for (not deleted ones).
        """
        self.user_sync = UserSync(upsert, delete, known_ids)
        self.on("user.created", "user.updated")(lambda event: upsert(event["data"]))
        self.on("user.deleted")(lambda event: delete(event["data"]["id"], event["timestamp"]))

    def init_app(self, app: Flask, *, url: str | None = None) -> None:
        if "clerk" not in app.extensions:
            raise ClerkConfigError("ClerkWebhooks needs ClerkAuth on the app first.")
        secret = app.config.get("CLERK_WEBHOOK_SIGNING_SECRET") or app.config.get(
            "CLERK_WEBHOOK_SECRET")
        app.extensions["clerk_webhooks"] = _Receiver(self, str(secret) if secret else None)
        if not secret:
            # `flask clerk sync` still works; nothing is received until the secret is set.
            app.logger.warning(
                "ClerkWebhooks receives nothing: set CLERK_WEBHOOK_SIGNING_SECRET (the "
                "endpoint's whsec_… secret) in the config or the environment.")
            return
        app.add_url_rule(url or self.url, "clerk_webhooks", self._receive, methods=["POST"])
        csrf = app.extensions.get("csrf")
        if csrf is not None:  # Flask-WTF's CSRFProtect: the signature is the check here
            csrf.exempt(self._receive)

    def _receive(self) -> Response:
        secret = current_app.extensions["clerk_webhooks"].secret
        assert secret is not None  # the route exists only with a secret
        body = request.get_data(cache=False)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            Webhook(secret).verify(body, headers)
            event = json.loads(body)
        except WebhookVerificationError as error:
            return _answer(400, "webhook_signature_invalid", f"Not verified: {error}.")
        except ValueError:  # a malformed secret, or a signed body that is not JSON
            return _answer(400, "webhook_payload_invalid", "Not a Clerk event.")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return _answer(400, "webhook_payload_invalid", "Not a Clerk event.")
        return self._dispatch(headers.get("svix-id") or headers["webhook-id"], event)

    def _dispatch(self, svix_id: str, event: dict[str, Any]) -> Response:
        from .core.webhook_receipts import Claim, WebhookReceipts

        receipts = WebhookReceipts(current_app.extensions["clerk"].instance.store)
        claim = receipts.claim(svix_id)
        if claim is Claim.DUPLICATE:
            return jsonify(received=True, duplicate=True)
        if claim is Claim.IN_PROGRESS:
            response = _answer(409, "webhook_in_progress", "Already being processed; retry later.")
            response.headers["Retry-After"] = "30"
            return response
        handlers = self._handlers.get(event["type"], []) + self._handlers.get("*", [])
        try:
            for handler in handlers:
                handler(event)
        except Exception:
            receipts.release(svix_id)
            logger.exception("A handler of %s (%s) failed", event["type"], svix_id)
            return _answer(500, "webhook_handler_failed", "A handler failed; retry later.")
        receipts.finish(svix_id)
        return jsonify(received=True, handled=len(handlers))


@dataclass(frozen=True)
class UserSync:
    upsert: Callable[[dict[str, Any]], str | None]
    delete: Callable[[str, int], Any]
    known_ids: Callable[[], Iterable[str]]


@dataclass(frozen=True)
class _Receiver:
    """Per-app state: the handlers' registry and the secret read once at init."""

    webhooks: ClerkWebhooks
    secret: str | None


def _answer(status: int, code: str, message: str) -> Response:
    response = jsonify({"errors": [{"code": code, "message": message, "long_message": message,
                                    "meta": {}}]})
    response.status_code = status
    return response
