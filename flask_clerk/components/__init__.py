"""The prebuilt components: ``{{ clerk.sign_in() }}``, ``sign_up``, ``user_button``,
``user_profile``. Each renders a Jinja template under ``templates/clerk/`` (an app
overrides one by shipping a template of the same name) from the flow's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import g, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from ..redirects import safe_redirect_url
from ..settings import Settings
from .appearance import Appearance

SIGN_IN_FLOW_COOKIE = "__clerk_sign_in"
SIGN_UP_FLOW_COOKIE = "__clerk_sign_up"


class ClassNames:
    """Builds an element's class attribute: ``cl-<key>``s, ``cl-<key>__<id>``s, then
    the app's classes from ``appearance.elements`` (Clerk's order)."""

    def __init__(self, elements: Mapping[str, str]) -> None:
        self._elements = elements

    def __call__(self, *keys: str, id: str | None = None, extra: str = "") -> str:
        classes = [f"cl-{k}" for k in keys]
        if id:
            classes += [f"cl-{k}__{id}" for k in keys]
        if extra:
            classes.append(extra)
        for key in keys:
            for lookup in (key, f"{key}__{id}" if id else None):
                if lookup and lookup in self._elements:
                    classes.append(self._elements[lookup])
        return " ".join(classes)


class Components:
    """The ``clerk`` object in templates."""

    def __init__(self, settings: Settings, appearance: Appearance) -> None:
        self.settings = settings
        self.appearance = appearance

    # -- the components -----------------------------------------------------------

    def sign_in(self, **props: Any) -> Markup:
        from ..web.views import sign_in_step

        return self._render("sign_in", props, step=sign_in_step())

    def sign_up(self, **props: Any) -> Markup:
        from ..web.views import sign_up_step

        return self._render("sign_up", props, step=sign_up_step())

    def user_button(self, **props: Any) -> Markup:
        return self._render("user_button", props)

    def user_profile(self, **props: Any) -> Markup:
        from ..web.views import profile_context

        return self._render("user_profile", props, **profile_context(props))

    def stylesheet(self) -> Markup:
        """``<link>`` to the components' stylesheet, for an app's ``<head>``.

        Optional: a component links it itself when the page has not yet.
        """
        g._clerk_css_linked = True
        href = url_for("clerk.static", filename="clerk.css")
        return Markup('<link rel="stylesheet" href="{}">').format(href)

    # -- helpers for templates -----------------------------------------------------

    @property
    def user(self) -> Any:
        from ..request import current_user

        return current_user._get_current_object() if current_user else None  # type: ignore[union-attr]

    @property
    def auth(self) -> Any:
        from ..request import auth

        return auth()

    def _render(self, name: str, props: dict[str, Any], **context: Any) -> Markup:
        appearance = self.appearance.merged(props.pop("appearance", None))
        link_css = not g.get("_clerk_css_linked")
        g._clerk_css_linked = True
        from ..web.forms import sign_return_to

        redirect_url = safe_redirect_url(
            props.get("redirect_url") or request.args.get("redirect_url"),
            fallback="",
            allowed_origins=self.settings.allowed_redirect_origins,
        )
        html = render_template(
            f"clerk/{name}.html",
            clerk_settings=self.settings,
            appearance=appearance,
            options=appearance.options,
            cl=ClassNames(appearance.elements),
            theme_class="cl-theme-dark" if appearance.theme == "dark" else "cl-theme-light",
            root_style=appearance.style(),
            link_css=link_css,
            csrf_token=generate_csrf,
            return_to=sign_return_to(
                request.full_path if request.query_string else request.path
            ),
            redirect_url=redirect_url,
            props=props,
            current_user=self.user,
            **context,
        )
        return Markup(html)  # noqa: S704 - rendered by an autoescaping template
