"""A company's app in remote mode, for the end-to-end test of issue 10: run as a
process of its own (``flask --app app:create_app run``), trusting the instance the
test serves. Configured from the environment, as a deployed app would be."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, render_template_string

from flask_clerk import ClerkAuth, current_user, login_required

PAGE = """<!doctype html><title>App</title>
{% if current_user %}<h1>Welcome, {{ current_user.first_name }}</h1>
{% else %}<h1>The app</h1>{{ clerk.sign_in(text="Sign in") }}{% endif %}"""


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ["APP_SECRET_KEY"],
        CLERK_PUBLISHABLE_KEY=os.environ["CLERK_PUBLISHABLE_KEY"],
        CLERK_SECRET_KEY=os.environ["CLERK_SECRET_KEY"],
        CLERK_API_URL=os.environ["CLERK_API_URL"],  # the instance, server to server
        CLERK_COOKIE_SECURE=False,  # (http on this machine)
    )
    ClerkAuth(app, mode="remote")

    @app.get("/")
    def home() -> str:
        return render_template_string(PAGE, current_user=current_user)

    @app.get("/dashboard")
    @login_required
    def dashboard() -> str:
        return render_template_string(PAGE, current_user=current_user)

    @app.get("/api/me")
    @login_required
    def me() -> Any:
        if current_user is None:  # the instance's Backend API did not answer just now
            return jsonify(error="the user could not be read; try again"), 503
        return jsonify(email=current_user.email_addresses[0].email_address)

    return app
