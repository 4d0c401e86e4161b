"""``clerk`` in templates for an app in remote mode (:mod:`flask_clerk.remote`).

``sign_in()`` and ``sign_up()`` are links to the issuer's pages, which come back
here through its handshake. ``user_button()`` and ``organization_switcher()``
render the embedded mode's templates from the session token and the issuer's
Backend API (cached: never a call per request); their forms post to this app
(:mod:`flask_clerk.web.remote`), which acts at the issuer. The other components
are the issuer's pages: link to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn
from urllib.parse import urlencode, urljoin

from flask import request
from markupsafe import Markup

from ..remote import RemoteInstance, RemoteSettings, RemoteUsers, via_handshake
from ..request import auth
from ..web.forms import form_state
from . import Components
from .appearance import Appearance

# The components that are pages of the issuer's, and the setting that names each.
ON_ISSUER = {
    "user_profile": "user_profile_url", "organization_profile": "organization_profile_url",
    "create_organization": "create_organization_url",
    "organization_list": "choose_organization_url", "task_setup_mfa": "setup_mfa_url",
    "user_verification": "reverify_url", "waitlist": "sign_up_url",
    "accept_invitation": "sign_up_url",
}


class RemoteComponents(Components):
    def __init__(self, instance: RemoteInstance, appearance: Appearance,
                 users: RemoteUsers) -> None:
        super().__init__(instance, appearance)  # type: ignore[arg-type]
        self.users = users

    @property
    def settings(self) -> RemoteSettings:  # type: ignore[override]
        return self.instance.settings  # type: ignore[return-value]

    def sign_in(self, **props: Any) -> Markup:
        return self._link("signIn", self.settings.sign_in_url, props.get("text") or "Sign in",
                          props)

    def sign_up(self, **props: Any) -> Markup:
        return self._link("signUp", self.settings.sign_up_url,
                          props.get("text") or "Sign up", props)

    def user_button(self, **props: Any) -> Markup:
        props.setdefault("user_profile_url", self.issuer_page(self.settings.user_profile_url))
        return self._render("user_button", props, multi_session=False, other_sessions=[],
                            form=form_state("sign_out"))

    def organization_switcher(self, **props: Any) -> Markup:
        """The user's organizations from the Backend API; the active one from the
        token. (Nothing, like the user button, while the issuer cannot be read.)"""
        current = auth(treat_pending_as_signed_out=False)
        memberships = (self.users.memberships(current.user_id) or []) if current.user_id else []
        active = next((m for m in memberships if m.organization_id == current.org_id), None)
        for key in ("organization_profile_url", "create_organization_url"):
            props.setdefault(key, self.issuer_page(getattr(self.settings, key)))
        return self._render(
            "organization_switcher", props, memberships=memberships, active=active,
            personal_allowed=self.settings.organization_membership == "optional",
            role_names={m.role: m.role_name for m in memberships},
            invitations=[], offers=[], form=form_state("organization.switch"))

    def impersonation_banner(self) -> Markup:
        return Markup("")  # (the issuer's pages show it)

    def issuer_page(self, page: str, back_to: str | None = None) -> str:
        """``page`` of the issuer's, coming back to ``back_to`` (this page) through
        its handshake."""
        back = via_handshake(self.settings, urljoin(request.url, back_to or ""))
        return page + ("&" if "?" in page else "?") + urlencode({"redirect_url": back})

    def _link(self, key: str, page: str, text: str, props: Mapping[str, Any]) -> Markup:
        href = self.issuer_page(page, props.get("redirect_url"))
        return Markup('<a class="cl-{}Button" href="{}">{}</a>').format(key, href, text)


def _on_issuer(name: str, setting: str) -> Any:
    def component(self: RemoteComponents, **props: Any) -> NoReturn:
        raise RuntimeError(
            f"clerk.{name}() is a page of the issuer's in remote mode: link to "
            f"{getattr(self.settings, setting)} (clerk.issuer_page(...) adds the way back).")

    component.__name__ = name
    return component


for _name, _setting in ON_ISSUER.items():
    setattr(RemoteComponents, _name, _on_issuer(_name, _setting))
