"""A company's app in remote mode, for the end-to-end test of issue 10: run as a
process of its own (``flask --app app:create_app run``), trusting the instance the
test serves. Configured from the environment, as a deployed app would be."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, render_template_string, request

from flask_clerk import ClerkAuth, current_user, login_required

PAGE = """<!doctype html><html lang="en"><title>App</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { margin: 0; font: 15px/1.5 system-ui, sans-serif;
         background: {{ '#111318' if dark else '#f6f7f9' }};
         color: {{ '#eef0f4' if dark else '#1f2430' }}; }
  header { display: flex; align-items: center; justify-content: space-between; gap: 12px;
           padding: 10px 20px; border-bottom: 1px solid {{ '#2a2f3a' if dark else '#e3e6ec' }}; }
  main { padding: 24px 20px; }
</style>
{% if current_user %}
<header>{{ clerk.organization_switcher(appearance=appearance) }}
        {{ clerk.user_button(appearance=appearance, show_name=True) }}</header>
<main><h1>Welcome, {{ current_user.first_name }}</h1>
<p>Organization: <span id="org">{{ auth().org_slug or "personal" }}</span></p></main>
{% else %}<main><h1>The app</h1>{{ clerk.sign_in(text="Sign in") }}</main>{% endif %}"""


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

    def page() -> str:
        dark = request.args.get("theme") == "dark"
        return render_template_string(PAGE, current_user=current_user, dark=dark,
                                      appearance={"theme": "dark" if dark else "light"})

    app.get("/")(page)
    app.get("/dashboard", endpoint="dashboard")(login_required(page))

    @app.get("/api/me")
    @login_required
    def me() -> Any:
        if current_user is None:  # the instance's Backend API did not answer just now
            return jsonify(error="the user could not be read; try again"), 503
        return jsonify(email=current_user.email_addresses[0].email_address)

    return app
