"""HTTP adapters: the frontend API forms, account pages, JWKS, dev mailbox."""

from __future__ import annotations

from flask import Flask

from ..settings import Settings


def register_blueprints(app: Flask, settings: Settings) -> None:
    from . import (  # noqa: F401 - their routes join the views' blueprint
        factors,
        handshake,
        impersonation,
        oauth,
        passkeys,
        waitlist,
    )
    from .pages import account_page, account_page_converter, public
    from .views import bp

    app.register_blueprint(bp)
    app.register_blueprint(public)
    from . import backend_api

    backend_api.register(app)
    from . import dashboard

    dashboard.register(app, settings)
    if settings.organizations:
        from .organizations import bp as organizations_bp

        app.register_blueprint(organizations_bp)
    if settings.account_pages:
        app.url_map.converters["clerk_account_page"] = account_page_converter(settings)
        app.add_url_rule("/<clerk_account_page:page>", "clerk_public.account_page", account_page)
