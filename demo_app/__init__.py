"""Acme Projects: a small B2B SaaS that gets all of its auth from flask_clerk."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from flask_clerk import ClerkAuth

from .models import db
from .views import bp

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
    app.config.update(config or {})
    db.init_app(app)
    csrf.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    clerk.init_app(app, protect=["/dashboard(.*)", "/api/(.*)", "/org/(.*)", "/projects(.*)"],
                   appearance=APPEARANCE, organizations=True)
    app.register_blueprint(bp)
    return app
