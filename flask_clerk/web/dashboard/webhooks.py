"""The dashboard's webhooks: endpoints (add, edit the events they get, rotate the
secret, turn off, remove) and the recent messages with every attempt and answer,
replayed one by one or all the failed ones at once."""

from __future__ import annotations

from flask import redirect, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from ...core import webhooks
from ...core.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ...extension import db_session, state
from ..forms import field, form_state
from . import admin_view, audited, bp, dashboard_action, render_page

FORMS = ("dashboard.webhook", "dashboard.webhook_new")


def _events() -> list[str]:
    return sorted({e for e in field("events").replace(",", " ").split() if e})[:50]


@bp.get("/webhooks")
@admin_view
def webhooks_page() -> Response:
    db = db_session()
    endpoints = list(db.scalars(select(WebhookEndpoint).order_by(
        WebhookEndpoint.created_at)))
    return render_page("webhooks", endpoints=endpoints,
                       deliveries=webhooks.recent_deliveries(db, limit=30),
                       form=form_state(*FORMS))


@bp.get("/webhooks/<endpoint_id>")
@admin_view
def webhook(endpoint_id: str) -> Response:
    return _endpoint_page(endpoint_id, revealed=False)


def _endpoint_page(endpoint_id: str, *, revealed: bool) -> Response:
    db = db_session()
    found = webhooks.endpoint(db, endpoint_id)
    deliveries = list(db.scalars(
        select(WebhookDelivery).options(joinedload(WebhookDelivery.message))
        .where(WebhookDelivery.endpoint_id == found.id)
        .order_by(WebhookDelivery.created_at.desc()).limit(30)))
    attempts: dict[str, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    for attempt in db.scalars(select(WebhookAttempt).where(
            WebhookAttempt.delivery_id.in_(attempts)).order_by(WebhookAttempt.attempted_at)):
        attempts[attempt.delivery_id].append(attempt)
    response = render_page("webhook", endpoint=found, deliveries=deliveries, attempts=attempts,
                           revealed=revealed, form=form_state(*FORMS))
    if revealed:
        response.headers["Cache-Control"] = "no-store"
    return response


def _back(endpoint_id: str) -> Response:
    return redirect(url_for(".webhook", endpoint_id=endpoint_id), 303)


@bp.post("/webhooks")
@dashboard_action("webhook_new", keep=("url", "events", "description"))
def webhook_create() -> Response:
    with audited("webhook.endpoint_created") as entry:
        created = webhooks.add_endpoint(state().instance, db_session(), field("url"),
                                        event_types=_events(),
                                        description=field("description")[:500] or None)
        entry.target_type, entry.target_id = "webhook_endpoint", created.id
        entry.details = {"url": created.url, "events": created.event_types}
    return _back(created.id)


@bp.post("/webhooks/<endpoint_id>")
@dashboard_action("webhook", keep=("url", "events", "description"))
def webhook_update(endpoint_id: str) -> Response:
    with audited("webhook.endpoint_updated", ("webhook_endpoint", endpoint_id)) as entry:
        found = webhooks.update_endpoint(state().instance, db_session(), endpoint_id,
                                         url=field("url"), event_types=_events(),
                                         description=field("description")[:500])
        entry.details = {"url": found.url, "events": found.event_types}
    return _back(endpoint_id)


@bp.post("/webhooks/<endpoint_id>/enable")
@dashboard_action("webhook")
def webhook_enable(endpoint_id: str) -> Response:
    with audited("webhook.endpoint_enabled", ("webhook_endpoint", endpoint_id)):
        webhooks.update_endpoint(state().instance, db_session(), endpoint_id, enabled=True)
    return _back(endpoint_id)


@bp.post("/webhooks/<endpoint_id>/disable")
@dashboard_action("webhook")
def webhook_disable(endpoint_id: str) -> Response:
    with audited("webhook.endpoint_disabled", ("webhook_endpoint", endpoint_id)):
        webhooks.update_endpoint(state().instance, db_session(), endpoint_id, enabled=False)
    return _back(endpoint_id)


@bp.post("/webhooks/<endpoint_id>/rotate")
@dashboard_action("webhook")
def webhook_rotate(endpoint_id: str) -> Response:
    with audited("webhook.secret_rotated", ("webhook_endpoint", endpoint_id)):
        webhooks.rotate_secret(db_session(), endpoint_id)
    return _back(endpoint_id)


@bp.post("/webhooks/<endpoint_id>/reveal")
@dashboard_action("webhook")
def webhook_reveal(endpoint_id: str) -> Response:
    """The signing secret, shown in this answer only (and the showing audited)."""
    with audited("webhook.secret_revealed", ("webhook_endpoint", endpoint_id)):
        webhooks.endpoint(db_session(), endpoint_id)
    return _endpoint_page(endpoint_id, revealed=True)


@bp.post("/webhooks/<endpoint_id>/delete")
@dashboard_action("webhook")
def webhook_delete(endpoint_id: str) -> Response:
    with audited("webhook.endpoint_removed", ("webhook_endpoint", endpoint_id)):
        webhooks.remove_endpoint(state().instance, db_session(), endpoint_id)
    return redirect(url_for(".webhooks_page"), 303)


@bp.post("/webhooks/replay")
@dashboard_action("webhook_new")
def webhook_replay_failed() -> Response:
    """Every failed delivery (of one endpoint, when the form names it) again."""
    endpoint_id = field("endpoint_id") or None
    if endpoint_id:
        webhooks.endpoint(db_session(), endpoint_id)  # 404 for an unknown one
    with audited("webhook.replayed", ("webhook_endpoint", endpoint_id) if endpoint_id
                 else None) as entry:
        entry.details = {"deliveries": webhooks.replay(db_session(), endpoint_id=endpoint_id)}
    return _back(endpoint_id) if endpoint_id else redirect(url_for(".webhooks_page"), 303)


@bp.post("/webhooks/messages/<message_id>/replay")
@dashboard_action("webhook")
def webhook_replay_message(message_id: str) -> Response:
    with audited("webhook.replayed", ("webhook_message", message_id)) as entry:
        entry.details = {"deliveries": webhooks.replay(db_session(), message_id=message_id)}
    return redirect(url_for(".webhooks_page"), 303)
