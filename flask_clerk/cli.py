"""``flask clerk ...``: create an instance, migrate the identity store, rotate keys.

Registered as a ``flask.commands`` entry point, so ``flask clerk init`` works
before the app can start (it has no keys yet).
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

import click
from dotenv import dotenv_values, set_key
from flask import current_app
from flask.cli import ScriptInfo, with_appcontext
from sqlalchemy import select

from .core import webhooks as outbox
from .core.keys import ensure_signing_key, rotate_signing_key
from .core.models import WebhookEndpoint
from .core.organization_roles import add_role, remove_role
from .core.organizations import all_organizations, set_max_memberships
from .errors import ClerkError
from .extension import ClerkState


@click.group("clerk")
def clerk() -> None:
    """flask_clerk: instance keys, identity store, signing keys, roles, webhooks."""


def _state() -> ClerkState:
    return current_app.extensions["clerk"]  # type: ignore[no-any-return]


def new_instance_keys(frontend_host: str) -> dict[str, str]:
    """A development instance: ``pk_test_<base64("host$")>`` and ``sk_test_…``."""
    encoded = base64.b64encode(f"{frontend_host}$".encode()).decode().rstrip("=")
    return {
        "CLERK_PUBLISHABLE_KEY": f"pk_test_{encoded}",
        "CLERK_SECRET_KEY": f"sk_test_{secrets.token_urlsafe(32)}",
        "FLASK_SECRET_KEY": secrets.token_hex(32),
    }


@clerk.command("init")
@click.option("--env-file", default=".env", show_default=True, type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1:5000", show_default=True,
              help="Host (and port) the app is served on; encoded in the publishable key.")
@click.pass_context
def init(ctx: click.Context, env_file: str, host: str) -> None:
    """Create the instance: keys in .env, identity store migrated, signing key made.

    Idempotent: keys already in the environment or the file are kept.
    """
    path = Path(env_file)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # it holds the instance's secret keys
    existing = {**dotenv_values(path), **os.environ}
    for key, value in new_instance_keys(f"{host}/__clerk").items():
        if existing.get(key):
            click.echo(f"  {key} already set, kept")
            continue
        set_key(str(path), key, value, quote_mode="never")
        os.environ[key] = value
        click.echo(f"  {key} written to {path}")
    app = ctx.ensure_object(ScriptInfo).load_app()
    with app.app_context():
        state = app.extensions["clerk"]
        state.instance.store.upgrade()
        with state.instance.store.session() as db:
            pair = ensure_signing_key(db)
    click.echo(f"Identity store ready at {state.settings.database_url}; signing key {pair.kid}.")


@clerk.group("db")
def db() -> None:
    """The identity store's schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply the library's migrations to CLERK_DATABASE_URL."""
    store = _state().instance.store
    store.upgrade(revision)
    click.echo(f"Identity store at revision {store.current_revision()}.")


@clerk.group("keys")
def keys() -> None:
    """Session token signing keys."""


@keys.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """New signing key; tokens signed by the old one verify until they expire."""
    instance = _state().instance
    with instance.store.session() as session:
        pair = rotate_signing_key(session)
    instance.forget_signing_key()
    click.echo(f"New signing key {pair.kid}.")


@clerk.group("roles")
def roles() -> None:
    """Organization roles and their permissions."""


@roles.command("list")
@with_appcontext
def roles_list() -> None:
    """Every role: built in, from CLERK_ORGANIZATION_ROLES, and added here."""
    for role in sorted(_state().instance.roles().values(), key=lambda r: r.key):
        permissions = ", ".join(role.permissions) or "no permissions"
        click.echo(f"{role.key}  {role.name}: {permissions}")


@roles.command("add")
@click.argument("key")
@click.option("--name", help="Shown in the components, e.g. Editor.")
@click.option("--permission", "permissions", multiple=True,
              help="org:<feature>:<action>; repeat for more.")
@click.option("--description")
@with_appcontext
def roles_add(key: str, name: str | None, permissions: tuple[str, ...],
              description: str | None) -> None:
    """Add a custom role, e.g. `roles add org:editor --permission org:projects:manage`."""
    instance = _state().instance
    with instance.store.session() as db:
        try:
            role = add_role(instance, db, key, name=name, permissions=permissions,
                            description=description)
        except ClerkError as error:
            raise click.ClickException(error.params.get("detail") or error.message()) from None
    permissions_text = ", ".join(role.permissions) or "no permissions"
    click.echo(f"Added {role.key} ({role.name}): {permissions_text}.")


@roles.command("remove")
@click.argument("key")
@with_appcontext
def roles_remove(key: str) -> None:
    """Remove a role added with `roles add` that nobody holds."""
    instance = _state().instance
    with instance.store.session() as db:
        try:
            remove_role(instance, db, key)
        except ClerkError as error:
            raise click.ClickException(error.message()) from None
    click.echo(f"Removed {key}.")


@clerk.group("organizations")
def organizations() -> None:
    """Organizations of the instance."""


@organizations.command("list")
@with_appcontext
def organizations_list() -> None:
    """Every organization: slug, name, members and member limit."""
    instance = _state().instance
    default = instance.settings.organization_max_memberships
    with instance.store.session() as db:
        for organization, members in all_organizations(db):
            limit = organization.max_allowed_memberships or default
            click.echo(f"{organization.slug}  {organization.name}  {members} members"
                       f"  (limit: {limit or 'none'})  {organization.id}")


@organizations.command("set-limit")
@click.argument("organization")
@click.argument("limit")
@with_appcontext
def organizations_set_limit(organization: str, limit: str) -> None:
    """Set ORGANIZATION's (slug or id) member limit: a number, or "default"."""
    value = None if limit == "default" else int(limit) if limit.isdigit() else -1
    with _state().instance.store.session() as db:
        try:
            found = set_max_memberships(db, organization, value)
        except ClerkError as error:
            raise click.ClickException(
                f"No organization {organization!r}." if error.code == "resource_not_found"
                else 'LIMIT is a positive number, or "default".') from None
    click.echo(f"{found.slug}: member limit {found.max_allowed_memberships or 'default'}.")


@clerk.group("webhooks")
def webhooks() -> None:
    """Endpoints the engine sends its events to (Svix-signed)."""


def _endpoint_line(found: Any) -> str:
    kinds = ", ".join(found.event_types) or "every event"
    state = "enabled" if found.enabled else f"disabled ({found.disabled_reason or 'by hand'})"
    return f"{found.id}  {found.url}  [{kinds}]  {state}"


@webhooks.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, help="Only this event type; repeat for more.")
@click.option("--description")
@with_appcontext
def webhooks_add(url: str, events: tuple[str, ...], description: str | None) -> None:
    """Add an endpoint; prints its signing secret (whsec_…) for the receiver."""
    instance = _state().instance
    with instance.store.session() as db:
        try:
            found = outbox.add_endpoint(instance, db, url, event_types=events,
                                        description=description)
        except ClerkError as error:
            raise click.ClickException(error.message()) from None
        click.echo(_endpoint_line(found))
        click.echo(f"signing secret: {found.secret}")


@webhooks.command("list")
@with_appcontext
def webhooks_list() -> None:
    with _state().instance.store.session() as db:
        for found in db.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at)):
            click.echo(_endpoint_line(found))


@webhooks.command("update")
@click.argument("endpoint_id")
@click.option("--url")
@click.option("--event", "events", multiple=True)
@click.option("--all-events", is_flag=True, help="Send every event type again.")
@click.option("--enable/--disable", default=None)
@click.option("--description")
@with_appcontext
def webhooks_update(endpoint_id: str, url: str | None, events: tuple[str, ...],
                    all_events: bool, enable: bool | None, description: str | None) -> None:
    instance = _state().instance
    with instance.store.session() as db:
        try:
            found = outbox.update_endpoint(
                instance, db, endpoint_id, url=url, enabled=enable, description=description,
                event_types=() if all_events else (events or None))
        except ClerkError as error:
            raise click.ClickException(error.message()) from None
        click.echo(_endpoint_line(found))


@webhooks.command("remove")
@click.argument("endpoint_id")
@with_appcontext
def webhooks_remove(endpoint_id: str) -> None:
    with _state().instance.store.session() as db:
        try:
            outbox.remove_endpoint(_state().instance, db, endpoint_id)
        except ClerkError as error:
            raise click.ClickException(error.message()) from None
    click.echo(f"Removed {endpoint_id}.")


@webhooks.command("rotate-secret")
@click.argument("endpoint_id")
@with_appcontext
def webhooks_rotate_secret(endpoint_id: str) -> None:
    """A new secret; the old one also signs for 24 hours."""
    with _state().instance.store.session() as db:
        try:
            found = outbox.rotate_secret(db, endpoint_id)
        except ClerkError as error:
            raise click.ClickException(error.message()) from None
        click.echo(f"signing secret: {found.secret}")


@webhooks.command("messages")
@click.option("--failed", is_flag=True, help="Only deliveries that failed for good.")
@click.option("--limit", default=20, show_default=True)
@with_appcontext
def webhooks_messages(failed: bool, limit: int) -> None:
    """Recent deliveries: message, endpoint, status, attempts and the last answer."""
    with _state().instance.store.session() as db:
        for delivery, attempt in outbox.recent_deliveries(db, failed_only=failed, limit=limit):
            last = "no attempt yet" if attempt is None else (
                f"last: {attempt.status_code or attempt.error} in {attempt.duration_ms} ms")
            click.echo(f"{delivery.message_id}  {delivery.message.event_type}  "
                       f"{delivery.endpoint_id}  {delivery.status} after {delivery.attempts} "
                       f"attempts ({last})")


@webhooks.command("replay")
@click.option("--endpoint", "endpoint_id")
@click.option("--message", "message_id")
@with_appcontext
def webhooks_replay(endpoint_id: str | None, message_id: str | None) -> None:
    """Send failed deliveries again (of one endpoint, or one message)."""
    with _state().instance.store.session() as db:
        count = outbox.replay(db, endpoint_id=endpoint_id, message_id=message_id)
    click.echo(f"{count} deliveries queued again.")


@clerk.command("worker")
@with_appcontext
def worker() -> None:
    """Deliver webhooks until interrupted (run one or more in production)."""
    from .core.webhook_worker import WebhookWorker

    click.echo("Delivering webhooks; Ctrl-C stops.")
    with contextlib.suppress(KeyboardInterrupt):
        WebhookWorker(_state().instance).run()


@clerk.command("sync")
@click.option("--api-url", help="A Clerk-compatible Backend API (e.g. https://api.clerk.com) "
              "instead of this app's own engine.")
@click.option("--secret-key", envvar="CLERK_SYNC_SECRET_KEY",
              help="That API's secret key (sk_…); default: CLERK_SYNC_SECRET_KEY.")
@with_appcontext
def sync(api_url: str | None, secret_key: str | None) -> None:
    """Reconcile the app's users table with the identity source."""
    from .sync import api_users, store_users, sync_users

    receiver = current_app.extensions.get("clerk_webhooks")
    user_sync = receiver.webhooks.user_sync if receiver is not None else None
    if user_sync is None:
        raise click.ClickException(
            "Nothing to sync into: give ClerkWebhooks your functions with "
            "webhooks.sync_users(upsert=..., delete=..., known_ids=...).")
    if api_url and not secret_key:
        raise click.ClickException("--api-url needs --secret-key (or CLERK_SYNC_SECRET_KEY).")
    users = api_users(api_url, secret_key or "") if api_url else store_users(_state().instance)

    def progress(items: Any) -> Any:
        with click.progressbar(items, label="Syncing users") as bar:
            yield from bar

    counts = sync_users(users, user_sync, progress)
    click.echo(", ".join(f"{counts[k]} {k}" for k in ("created", "updated", "unchanged",
                                                       "deleted")) + ".")
