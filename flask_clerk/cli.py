"""``flask clerk ...``: create an instance, migrate the identity store, rotate keys.

Registered as a ``flask.commands`` entry point, so ``flask clerk init`` works
before the app can start (it has no keys yet).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import json
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from dotenv import dotenv_values, set_key
from flask import current_app
from flask.cli import ScriptInfo, with_appcontext
from sqlalchemy import select

from .core import webhooks as outbox
from .core.keys import ensure_signing_key, rotate_signing_key
from .core.models import Session, WebhookEndpoint
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
@click.option("--host", default=None,
              help="Host (and port) the app is served on, encoded in the publishable key "
                   "[default: CLERK_DOMAIN, else 127.0.0.1:5000].")
@click.pass_context
def init(ctx: click.Context, env_file: str, host: str | None) -> None:
    """Create the instance: keys in .env, identity store migrated, signing key made.

    Idempotent: keys already in the environment or the file are kept.
    """
    path = Path(env_file)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # it holds the instance's secret keys
    existing = {**dotenv_values(path), **os.environ}
    host = host or existing.get("CLERK_DOMAIN") or "127.0.0.1:5000"
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
    """Session token signing keys, and the keys of secrets at rest."""


@keys.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """New signing key; tokens signed by the old one verify until they expire."""
    instance = _state().instance
    with instance.store.session() as session:
        pair = rotate_signing_key(session)
    instance.forget_signing_key()
    click.echo(f"New signing key {pair.kid}.")


@keys.command("reseal")
@with_appcontext
def keys_reseal() -> None:
    """Re-encrypt every stored TOTP secret under the first of CLERK_ENCRYPTION_KEYS
    (after adding a key; then the old ones can go)."""
    from .core.mfa import reseal_totp_secrets

    instance = _state().instance
    with instance.store.session() as db:
        count = reseal_totp_secrets(instance, db)
    click.echo(f"Resealed {count} TOTP secrets under the first encryption key.")


@clerk.group("admins")
def admins_group() -> None:
    """Instance administrators: who may use the dashboard (besides CLERK_DASHBOARD_ADMINS)."""


@admins_group.command("add")
@click.argument("email")
@with_appcontext
def admins_add(email: str) -> None:
    """Promote the user with this verified email address."""
    from .core import admins

    with _state().instance.store.session() as db:
        try:
            user = admins.add_admin(db, email)
        except ClerkError as error:
            message = ("No user has this verified email address." if error.code ==
                       "resource_not_found" else error.message())
            raise click.ClickException(message) from None
        click.echo(f"{user.primary_address} ({user.id}) is an administrator.")


@admins_group.command("remove")
@click.argument("email")
@with_appcontext
def admins_remove(email: str) -> None:
    """Take the dashboard away from a user promoted with `admins add`."""
    from .core import admins

    with _state().instance.store.session() as db:
        try:
            removed = admins.remove_admin(db, email)
        except ClerkError as error:
            raise click.ClickException(error.message()) from None
    click.echo(f"Removed {email}." if removed else f"{email} was not promoted here.")


@admins_group.command("list")
@with_appcontext
def admins_list() -> None:
    """The administrators: from CLERK_DASHBOARD_ADMINS, then promoted here."""
    from .core import admins

    for name in _state().settings.dashboard_admins:
        click.echo(f"{name}  (CLERK_DASHBOARD_ADMINS)")
    with _state().instance.store.session() as db:
        for user in admins.promoted_admins(db):
            click.echo(f"{user.primary_address}  {user.id}")


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
              "instead of this app's own engine (in remote mode: the issuer's).")
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
    settings = current_app.extensions["clerk"].settings
    if settings.remote and not api_url:  # the issuer, as the app reads it
        api_url, secret_key = settings.api_url, secret_key or settings.secret_key
    if api_url and not secret_key:
        raise click.ClickException("--api-url needs --secret-key (or CLERK_SYNC_SECRET_KEY).")
    users = api_users(api_url, secret_key or "") if api_url else store_users(_state().instance)

    def progress(items: Any) -> Any:
        with click.progressbar(items, label="Syncing users") as bar:
            yield from bar

    counts = sync_users(users, user_sync, progress)
    click.echo(", ".join(f"{counts[k]} {k}" for k in ("created", "updated", "unchanged",
                                                       "deleted")) + ".")


# --- Users in and out -------------------------------------------------------------------------


@clerk.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(["auto", "jsonl", "csv"]),
              default="auto", show_default=True,
              help="jsonl: one POST /v1/users body (or export row) a line; csv: Clerk's "
                   "export. auto: by the file's name, else its first character.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Where rejected rows go, one JSON line each with the reason "
                   "[default: FILE.rejected.jsonl]; written only if a row is rejected.")
@click.option("--no-webhooks", is_flag=True, help="Emit no user.created events.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 10_000),
              help="Users per transaction.")
@with_appcontext
def import_users(file: Path, file_format: str, report: Path | None, no_webhooks: bool,
                 batch_size: int) -> None:
    """Import the users in FILE; run it again after a failure: users already there
    (same external_id or email address) are skipped, so nobody is created twice."""
    from .core.user_import import import_rows

    instance = _state().instance
    if file_format == "auto":
        file_format = _guess_format(file)
    report = report or file.with_name(file.name + ".rejected.jsonl")
    source = UserFile(file, file_format)
    rejections: Any = None

    def on_reject(position: int, row: Any, error: ClerkError) -> None:
        nonlocal rejections
        if rejections is None:
            rejections = _private_file(report)
        rejections.write(json.dumps({
            "line": source.line_of(position), "row": _redacted(row), "code": error.code,
            "field": error.field, "message": error.message(instance.settings.messages),
        }, ensure_ascii=False, default=str) + "\n")

    try:
        with click.progressbar(length=file.stat().st_size, label="Importing users",
                               file=sys.stderr) as bar:
            source.on_bytes = bar.update
            with instance.store.session() as db:
                result = import_rows(instance, db, source.rows(), events=not no_webhooks,
                                     batch_size=batch_size, on_reject=on_reject,
                                     on_progress=source.forget_until)
    finally:
        if rejections is not None:
            rejections.close()
    click.echo(f"created {result.created}, skipped {result.skipped} (already there), "
               f"rejected {result.rejected}")
    if result.rejected:
        click.echo(f"Rejected rows and why: {report}", err=True)


def _guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    with path.open("rb") as raw:
        for line in raw:
            if line.strip():
                return "jsonl" if line.lstrip(b"\xef\xbb\xbf \t").startswith(b"{") else "csv"
    return "jsonl"


class UserFile:
    """The rows of an import file, read as they are needed; it remembers the line
    numbers of the rows not yet done (for the report) and counts the bytes read (for
    the progress bar)."""

    def __init__(self, path: Path, file_format: str) -> None:
        self.path = path
        self.file_format = file_format
        self.on_bytes: Callable[[int], Any] = lambda n: None
        self._lines: dict[int, int] = {}  # row position -> line number
        self._line = 0

    def line_of(self, position: int) -> int | None:
        return self._lines.get(position)

    def forget_until(self, position: int) -> None:
        for done in [p for p in self._lines if p <= position]:
            del self._lines[done]

    def rows(self) -> Iterator[Any]:
        """Dicts; a JSON line that is not valid JSON comes as its text (rejected)."""
        with self.path.open("rb") as raw:
            lines = self._text_lines(raw)
            if self.file_format == "jsonl":
                yield from self._json_rows(lines)
            else:
                yield from self._csv_rows(lines)

    def _text_lines(self, raw: Any) -> Iterator[str]:
        for data in raw:
            self._line += 1
            self.on_bytes(len(data))
            try:
                text: str = data.decode("utf-8-sig" if self._line == 1 else "utf-8")
            except UnicodeDecodeError:
                raise click.ClickException(
                    f"{self.path}, line {self._line}: not UTF-8 text.") from None
            yield text

    def _json_rows(self, lines: Iterator[str]) -> Iterator[Any]:
        position = 0
        for text in lines:
            if not text.strip():
                continue
            position += 1
            self._lines[position] = self._line
            try:
                yield json.loads(text)
            except (ValueError, RecursionError):  # rejected as "not a JSON object"
                yield text.rstrip("\r\n")[:1000]

    def _csv_rows(self, lines: Iterator[str]) -> Iterator[dict[str, str]]:
        from .core.user_import import EXPORT_MARKERS

        def without_leading_comments() -> Iterator[str]:
            # Clerk's sample files start with "# ..." lines before the header.
            started = False
            for text in lines:
                if not started and text.startswith("#"):
                    continue
                started = True
                yield text

        reader = csv.reader(without_leading_comments())
        header = [name.strip() for name in next(reader, [])]
        if EXPORT_MARKERS.isdisjoint(header):
            raise click.ClickException(
                f"{self.path} is not Clerk's export CSV: no id, primary_email_address or "
                "verified_email_addresses column.")
        position, end = 0, self._line
        for values in reader:
            start, end = end + 1, self._line
            if not any(value.strip() for value in values):
                continue
            position += 1
            self._lines[position] = start
            yield dict(zip(header, values, strict=False))


def _redacted(row: Any) -> Any:
    """The row for the report, without what is secret in it."""
    if not isinstance(row, dict):
        return None  # an unreadable line may hold anything, a password included
    return {key: "[redacted]" if key in {"password", "totp_secret", "backup_codes"} and value
            else value for key, value in row.items()}


def _private_file(path: Path | str) -> Any:
    """Opened for writing, readable by its owner only (it holds digests or rows)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was there already
    return open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed by the caller


@clerk.command("export")
@click.option("--format", "file_format", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True, help="csv: Clerk's export columns (and a few more); jsonl: "
                                      "the same as JSON, one user a line.")
@click.option("--output", "-o", default="-", show_default=True,
              help="A file (created readable by you only), or - for standard output.")
@click.option("--sessions", is_flag=True,
              help="Export the active sessions (Clerk's Session objects) instead of users.")
@with_appcontext
def export_users(file_format: str, output: str, sessions: bool) -> None:
    """Write every user (or active session), streaming: any number fits in memory.

    The users' file holds password digests and TOTP secrets: it re-imports here
    (flask clerk import) or into Clerk. Keep it like the database, delete it after.
    """
    from .core.secret_box import UnreadableSecret
    from .core.serializers import session_json
    from .core.user_export import (
        COLUMNS,
        count_active_sessions,
        count_users,
        csv_cell,
        export_rows,
        session_rows,
    )

    instance = _state().instance
    if not sessions:
        click.echo("Warning: this file holds password digests and TOTP secrets in the "
                   "clear: keep it private, and delete it once imported.", err=True)
    columns = tuple(session_json(Session()).keys()) if sessions else COLUMNS
    with instance.store.session() as db:  # for the progress bar only
        total = count_active_sessions(db) if sessions else count_users(db)
    with instance.store.session() as db, _output(output) as out:
        rows = session_rows(db) if sessions else export_rows(instance, db)
        writer = csv.writer(out) if file_format == "csv" else None
        if writer is not None:
            writer.writerow(columns)
        label = "Exporting sessions" if sessions else "Exporting users"
        written = 0
        try:
            with click.progressbar(rows, length=total, label=label,
                                   file=sys.stderr) as bar:
                for written, row in enumerate(bar, start=1):  # noqa: B007 - counted
                    if writer is not None:
                        writer.writerow([csv_cell(row.get(column)) for column in columns])
                    else:
                        out.write(json.dumps(row, ensure_ascii=False,
                                             separators=(",", ":")) + "\n")
        except UnreadableSecret as error:
            raise click.ClickException(f"{error}; the export is incomplete.") from None
    if output != "-":
        click.echo(f"{written} {'sessions' if sessions else 'users'} written to {output}.",
                   err=True)


@contextlib.contextmanager
def _output(output: str) -> Iterator[Any]:
    if output == "-":
        yield sys.stdout
        return
    with _private_file(output) as out:
        yield out
