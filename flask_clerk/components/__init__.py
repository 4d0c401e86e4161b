"""The prebuilt components: ``{{ clerk.sign_in() }}``, ``sign_up``, ``waitlist``,
``user_button``, ``user_profile``, and with organizations ``organization_switcher``,
``organization_profile``, ``organization_list``, ``create_organization``. Each
renders a Jinja template under ``templates/clerk/`` (an app overrides one by
shipping a template of the same name) from the flow's state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import g, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from ..core.instance import Instance
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

    def __init__(self, instance: Instance, appearance: Appearance) -> None:
        self.instance = instance
        self.appearance = appearance

    @property
    def settings(self) -> Settings:
        return self.instance.settings

    # -- the components -----------------------------------------------------------

    def sign_in(self, **props: Any) -> Markup:
        from ..web.views import sign_in_step

        return self._render("sign_in", props, step=sign_in_step())

    def sign_up(self, **props: Any) -> Markup:
        from ..web.views import sign_up_step
        from ..web.waitlist import sign_up_waits

        return self._render("sign_up", props, step=sign_up_step(), waits=sign_up_waits())

    def waitlist(self, **props: Any) -> Markup:
        """Join the waitlist (``waitlist`` sign-up mode): an address, then "Thanks"."""
        from ..web.waitlist import waitlist_context

        return self._render("waitlist", props, **waitlist_context())

    def user_button(self, **props: Any) -> Markup:
        from ..web.views import user_button_context

        return self._render("user_button", props, **user_button_context())

    def user_profile(self, **props: Any) -> Markup:
        from ..web.views import profile_context

        return self._render("user_profile", props, **profile_context(props))

    def task_setup_mfa(self, **props: Any) -> Markup:
        """The ``setup-mfa`` session task: set up an authenticator app, then go on."""
        from ..web.factors import setup_mfa_context

        return self._render("task_setup_mfa", props, **setup_mfa_context())

    def user_verification(self, **props: Any) -> Markup:
        """Confirm it's you again (step-up reverification), then back to the action."""
        from ..web.factors import reverify_context

        return self._render("user_verification", props, **reverify_context())

    # -- organizations (CLERK_ORGANIZATIONS) ----------------------------------------

    def organization_switcher(self, **props: Any) -> Markup:
        from ..web.organizations import switcher_context

        return self._render("organization_switcher", props, **self._organizations(),
                            **switcher_context())

    def organization_list(self, **props: Any) -> Markup:
        from ..web.organizations import switcher_context

        return self._render("organization_list", props, **self._organizations(),
                            **switcher_context())

    def organization_profile(self, **props: Any) -> Markup:
        from ..web.organizations import profile_context

        return self._render("organization_profile", props, **self._organizations(),
                            **profile_context(props))

    def create_organization(self, **props: Any) -> Markup:
        from ..web.forms import form_state

        return self._render("create_organization", props, **self._organizations(),
                            form=form_state("organization.create"))

    def accept_invitation(self, **props: Any) -> Markup:
        from ..web.organizations import invitation_context

        return self._render("accept_invitation", props, **self._organizations(),
                            **invitation_context())

    def _organizations(self) -> dict[str, Any]:
        if not self.settings.organizations:
            raise RuntimeError(
                "The organization components need CLERK_ORGANIZATIONS = True "
                "(or ClerkAuth(app, organizations=True))."
            )
        return {"personal_allowed": self.settings.organization_membership == "optional"}

    def impersonation_banner(self) -> Markup:
        """While an administrator acts as the user: who, and "Stop" (once a page,
        before the first component rendered)."""
        if g.get("_clerk_impersonation_banner"):
            return Markup("")
        g._clerk_impersonation_banner = True
        from ..web.impersonation import impersonation_banner_context

        banner = impersonation_banner_context()
        if banner is None:
            return Markup("")
        return self._render("impersonation_banner", {}, banner=banner)

    def email_link_status(self, *, message: str) -> Markup:
        """The card of a sign-in link that cannot sign in here (expired, used, or
        opened in another browser)."""
        return self._render("email_link_status", {}, message=message)

    def no_access(self, *, message: str) -> Markup:
        """The card of the 403 page (``forbidden_response``)."""
        return self._render("no_access", {}, message=message)

    def protect(self, *, role: str | None = None, permission: str | None = None,
                fallback: str = "", caller: Callable[[], str] | None = None) -> Markup:
        """``{% call clerk.protect(role="org:admin") %}…{% endcall %}``: the body only
        when ``auth().has(...)`` holds (signed in, when neither is given); else
        ``fallback`` (escaped unless it is Markup)."""
        from ..request import auth

        current = auth()
        allowed = current.is_signed_in if role is None and permission is None else current.has(
            role=role, permission=permission)
        if allowed and caller is not None:
            return Markup(caller())  # noqa: S704 - the caller is a template block
        return escape(fallback)

    def stylesheet(self) -> Markup:
        """``<link>`` to the components' stylesheet, for an app's ``<head>``.

        Optional: a component links it itself when the page has not yet.
        """
        g._clerk_css_linked = True
        href = url_for("clerk.static", filename="clerk.css")
        return Markup('<link rel="stylesheet" href="{}">').format(href)

    def passkey_script(self) -> Markup:
        """``<script>`` for the passkey buttons (``clerk-passkeys.js``), once a page."""
        if g.get("_clerk_passkey_js"):
            return Markup("")
        g._clerk_passkey_js = True
        src = url_for("clerk.static", filename="clerk-passkeys.js")
        return Markup('<script src="{}" defer></script>').format(src)

    # -- Elements (templates/clerk/elements.html) -------------------------------------

    def elements_flow(self, flow: str) -> Any:
        """The state an Elements page renders a sign-in or sign-up from."""
        from ..web.elements import flow_state

        if flow not in {"sign_in", "sign_up"}:
            raise ValueError(f"Elements know the flows sign_in and sign_up, not {flow!r}")
        return flow_state(flow)

    @staticmethod
    def element_attrs(attrs: Mapping[str, Any], keys: tuple[str, ...] = (),
                      id: str | None = None) -> Markup:
        from ..web.elements import html_attrs

        hooks = tuple(f"cl-{k}" for k in keys) + tuple(f"cl-{k}__{id}" for k in keys if id)
        return html_attrs(attrs, hooks=hooks)

    def element_input(self, name: str, flow: str) -> tuple[str, str | None, str | None]:
        """A field's input type, autocomplete and inputmode."""
        from ..web.elements import INPUTS, flow_state

        kind, autocomplete, inputmode = INPUTS.get(name, ("text", None, None))
        state = flow_state(flow)
        if name == "password" and (flow == "sign_up" or state.step == "reset-password"):
            autocomplete = "new-password"
        if name == "code" and state.strategy == "backup_code":  # letters and dashes
            autocomplete, inputmode = "off", None
        return kind, autocomplete, inputmode

    # -- helpers for templates -----------------------------------------------------

    @property
    def user(self) -> Any:
        from ..request import session_user

        return session_user()

    @property
    def auth(self) -> Any:
        from ..request import auth

        return auth()

    def _render(self, name: str, props: dict[str, Any], **context: Any) -> Markup:
        html = render_template(f"clerk/{name}.html", **self.template_context(props), **context)
        banner = self.impersonation_banner() if name != "impersonation_banner" else ""
        return banner + Markup(html)  # noqa: S704 - rendered by an autoescaping template

    def template_context(self, props: dict[str, Any]) -> dict[str, Any]:
        """What every component template (and the dashboard's pages) renders with:
        the appearance, the ``cl()`` class builder, CSRF and the signed page path."""
        appearance = self.appearance.merged(props.pop("appearance", None))
        link_css = not g.get("_clerk_css_linked")
        g._clerk_css_linked = True
        return {
            "clerk_settings": self.settings,
            "appearance": appearance,
            "options": appearance.options,
            "cl": ClassNames(appearance.elements),
            "theme_class": "cl-theme-dark" if appearance.theme == "dark" else "cl-theme-light",
            "root_style": appearance.style(),
            "link_css": link_css,
            **self.form_context(props),
            "props": props,
            "current_user": self.user,
        }

    def form_context(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """What a component's forms carry: the CSRF token, this page's signed path
        (errors are shown on it) and where to go afterwards."""
        from ..web.forms import sign_return_to

        return {
            "csrf_token": generate_csrf,
            "return_to": sign_return_to(
                request.full_path if request.query_string else request.path),
            "redirect_url": safe_redirect_url(
                props.get("redirect_url") or request.args.get("redirect_url"), fallback="",
                allowed_origins=self.settings.allowed_redirect_origins),
        }
