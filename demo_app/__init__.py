"""Acme Projects: a small B2B SaaS that gets all of its auth from flask_clerk."""

from __future__ import annotations

import os
from typing import Any

import click
from dotenv import dotenv_values, set_key
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import Migrate
from flask_wtf import CSRFProtect
from sqlalchemy import select

from flask_clerk import ClerkAuth
from flask_clerk.core import webhooks as outbox
from flask_clerk.core.models import WebhookEndpoint

from .models import db
from .sync import webhooks
from .views import bp

WEBHOOK_URL = "http://127.0.0.1:5000/webhooks/clerk"

APPEARANCE = {
    "variables": {
        "colorPrimary": "#6366f1",
        "fontFamily": '"DM Sans", system-ui, sans-serif',
        "borderRadius": "8px",
    },
    "options": {"termsPageUrl": "/terms", "privacyPageUrl": "/privacy"},
}

# Everyone in an organization creates projects; only admins delete them.
ROLES = {
    "org:admin": {"permissions": ["org:projects:create", "org:projects:delete"]},
    "org:member": {"permissions": ["org:projects:create"]},
}

clerk = ClerkAuth()
migrate = Migrate()
csrf = CSRFProtect()  # the demo's own forms (projects); the components check theirs too


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_prefixed_env()  # FLASK_SECRET_KEY and friends, e.g. from .env
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI", "sqlite:///" + os.path.join(app.instance_path, "demo.db")
    )
    app.config.setdefault("CLERK_APPLICATION_NAME", "Acme Projects")
    app.config.setdefault("CLERK_AFTER_SIGN_IN_URL", "/dashboard")
    app.config.setdefault("CLERK_AFTER_SIGN_UP_URL", "/dashboard")
    app.config.setdefault("CLERK_AFTER_CREATE_ORGANIZATION_URL", "/dashboard")
    app.config.setdefault("CLERK_ORGANIZATION_ROLES", ROLES)
    # Every first factor on show: password, mailed code and link, passkeys.
    app.config.setdefault("CLERK_SIGN_IN_STRATEGIES",
                          ("password", "email_code", "email_link", "passkey"))
    # The demo's own webhook receiver is on this machine.
    app.config.setdefault("CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS", True)
    app.config.update(config or {})
    db.init_app(app)
    csrf.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    clerk.init_app(app, protect=["/dashboard(.*)", "/api/(.*)", "/org/(.*)", "/projects(.*)"],
                   appearance=APPEARANCE, organizations=True)
    app.register_blueprint(bp)
    webhooks.init_app(app)  # receives once `flask register-webhook` wrote the secret
    app.cli.add_command(register_webhook)
    return app


@click.command("register-webhook")
@click.option("--url", default=WEBHOOK_URL, show_default=True)
@click.option("--env-file", default=".env", show_default=True)
@with_appcontext
def register_webhook(url: str, env_file: str) -> None:
    """Subscribe the demo's /webhooks/clerk to the engine's events (once), and put the
    endpoint's signing secret in .env for the receiver."""
    instance = current_app.extensions["clerk"].instance
    with instance.store.session() as session:
        endpoint = session.scalars(select(WebhookEndpoint).filter_by(url=url)).first()
        if endpoint is None:
            endpoint = outbox.add_endpoint(instance, session, url,
                                           description="Acme Projects' users table")
        secret = endpoint.secret
    if dotenv_values(env_file).get("CLERK_WEBHOOK_SIGNING_SECRET") != secret:
        set_key(env_file, "CLERK_WEBHOOK_SIGNING_SECRET", secret, quote_mode="never")
    click.echo(f"Webhooks for {url}: endpoint {endpoint.id}, secret in {env_file}.")
