"""Acme Projects: a small B2B SaaS that gets all of its auth from flask_clerk."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask_migrate import Migrate

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

clerk = ClerkAuth()
migrate = Migrate()


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
    app.config.update(config or {})
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    clerk.init_app(app, protect=["/dashboard(.*)", "/api/(.*)"], appearance=APPEARANCE)
    app.register_blueprint(bp)
    return app
