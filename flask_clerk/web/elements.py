"""Elements: the sign-in and sign-up flows as unstyled building blocks
(``{% import "clerk/elements.html" as el with context %}``), for pages that must be
entirely the app's own design.

One flow, two presentations: an Elements page reads the very state the prebuilt
components render from (:func:`.views.sign_in_step`, :func:`.views.sign_up_step`)
and posts to the same endpoints, so CSRF, the current step, values kept after an
error, the errors with their Clerk codes, rate limits and redirects are the same.
This module names that state in Clerk Elements' vocabulary: the steps ``start``,
``verifications`` (with the current ``strategy``), ``choose-strategy``,
``reset-password``. Clerk's ``forgot-password`` is an action here (it mails the
reset code and moves to ``verifications`` with ``reset_password_email_code``); a
page may also name that step ``forgot-password``, and a second factor's
``second-factor``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import g, request, url_for
from markupsafe import Markup, escape

# The prebuilt step's name -> (the Elements step, its strategy, the endpoint its form posts to).
SIGN_IN_STEPS: dict[str, tuple[str, str | None, str | None]] = {
    "start": ("start", None, "clerk.sign_in_start"),
    "password": ("verifications", "password", "clerk.sign_in_password"),
    "email_code": ("verifications", "email_code", "clerk.sign_in_email_code"),
    "email_link": ("verifications", "email_link", None),  # (the link is opened, not typed)
    "alternatives": ("choose-strategy", None, "clerk.sign_in_strategy"),
    "reset_code": ("verifications", "reset_password_email_code", "clerk.sign_in_reset_code"),
    "new_password": ("reset-password", None, "clerk.sign_in_new_password"),
    "second_factor": ("verifications", None, "clerk.sign_in_second_factor"),  # its factor
    "signed_in": ("signed-in", None, None),
}
SIGN_UP_STEPS: dict[str, tuple[str, str | None, str | None]] = {
    "start": ("start", None, "clerk.sign_up_start"),
    "verify": ("verifications", "email_code", "clerk.sign_up_verify"),
    "restricted": ("restricted", None, None),
    "signed_in": ("signed-in", None, None),
}
STEPS = {
    "sign_in": {"start", "verifications", "choose-strategy", "reset-password", "signed-in",
                "forgot-password", "second-factor"},
    "sign_up": {"start", "verifications", "restricted", "signed-in"},
}
STRATEGIES = {"password", "email_code", "email_link", "reset_password_email_code", "totp",
              "backup_code"}
# action(navigate=…): targets that are a POST to the engine (in a form of their own)…
POST_NAVIGATIONS = {
    ("sign_in", "start"): "clerk.sign_in_restart",
    ("sign_in", "forgot-password"): "clerk.sign_in_forgot_password",
    ("sign_in", "sign-out"): "clerk.sign_out",
    ("sign_up", "start"): "clerk.sign_up_restart",
    ("sign_up", "sign-out"): "clerk.sign_out",
}
# …and links (this page with a query, or the other flow's page).
LINK_NAVIGATIONS = {"choose-strategy": "?method=alternatives", "totp": "?factor=totp",
                    "backup-code": "?factor=backup_code", "sign-in": None, "sign-up": None}
# A field's input: (type, autocomplete, inputmode).
INPUTS: dict[str, tuple[str, str | None, str | None]] = {
    "identifier": ("email", "username webauthn", None),
    "email_address": ("email", "email", None),
    "password": ("password", "current-password", None),
    "confirm_password": ("password", "new-password", None),
    "code": ("text", "one-time-code", "numeric"),
    "first_name": ("text", "given-name", None),
    "last_name": ("text", "family-name", None),
}


@dataclass
class FlowState:
    """Where a sign-in or sign-up stands, for the Elements macros."""

    flow: str  # "sign_in" | "sign_up"
    step: str  # the Elements step
    strategy: str | None
    endpoint: str | None
    form: Mapping[str, Any]
    identifier: str | None = None
    strategies: tuple[str, ...] = ()
    passkeys: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def is_step(self, name: str) -> bool:
        """Whether ``name`` (``choose_strategy`` or ``choose-strategy``) is the step
        now. ``second_factor`` and ``forgot_password`` name the verifications of a
        second factor and of a password reset code, for pages that lay them out
        apart. A name the flow does not have is a mistake in the page: an error."""
        name = name.replace("_", "-")
        if name not in STEPS[self.flow]:
            raise ValueError(f"{self.flow} has no step {name!r}; its steps: "
                             f"{', '.join(sorted(STEPS[self.flow]))}")
        internal = self.details.get("name")
        return name == self.step or (name, internal) in {
            ("second-factor", "second_factor"), ("forgot-password", "reset_code")}

    @property
    def action(self) -> str | None:
        return url_for(self.endpoint) if self.endpoint else None

    def is_strategy(self, name: str) -> bool:
        if name not in STRATEGIES:
            raise ValueError(f"no strategy {name!r}; the strategies: "
                             f"{', '.join(sorted(STRATEGIES))}")
        return self.strategy == name

    def navigation(self, target: str, redirect_url: str | None) -> tuple[str, str]:
        """Where ``action(navigate=target)`` goes: ``("post", url)`` for a form of
        its own, or ``("get", href)`` for a link (which keeps ``redirect_url``)."""
        target = target.replace("_", "-")
        endpoint = POST_NAVIGATIONS.get((self.flow, target))
        if endpoint:
            return "post", url_for(endpoint)
        if target not in LINK_NAVIGATIONS:
            known = sorted({t for f, t in POST_NAVIGATIONS if f == self.flow}
                           | set(LINK_NAVIGATIONS))
            raise ValueError(f"no navigation {target!r}; the targets: {', '.join(known)}")
        from ..extension import state

        settings = state().settings
        href = LINK_NAVIGATIONS[target] or (
            settings.sign_in_url if target == "sign-in" else settings.sign_up_url)
        if href.startswith("?"):
            href = request.path + href
        if redirect_url:
            href += ("&" if "?" in href else "?") + urlencode({"redirect_url": redirect_url})
        return "get", href

    def resend(self) -> tuple[str, dict[str, str]]:
        """The form that sends the code (or link) again: its URL and fields."""
        if self.flow == "sign_up":
            return url_for("clerk.sign_up_resend"), {}
        if self.strategy == "reset_password_email_code":
            return url_for("clerk.sign_in_forgot_password"), {}
        return url_for("clerk.sign_in_strategy"), {"strategy": self.strategy or ""}

    @property
    def offers_passkey(self) -> bool:
        """A passkey button has a use here: signing in, or as this user's second factor."""
        if self.flow != "sign_in" or not self.passkeys:
            return False
        return self.step == "start" or (self.details.get("name") == "second_factor"
                                        and bool(self.details.get("user_has_passkeys")))

    @property
    def invitation(self) -> Any:
        """The invitation a sign-up page was opened from (its address is fixed)."""
        return self.details.get("invitation")

    def error(self, name: str | None = None) -> str | None:
        """The message for field ``name`` (or the form's own), as the prebuilt shows it."""
        if name is None:
            return self.form.get("error")  # type: ignore[no-any-return]
        return (self.form.get("errors") or {}).get(name)  # type: ignore[no-any-return]

    def error_code(self, name: str | None = None) -> str | None:
        codes = self.form.get("codes") or {}
        return codes.get(name or "")  # type: ignore[no-any-return]

    def value(self, name: str) -> str:
        """What was typed before an error (never a password), or the flow's identifier."""
        kept = (self.form.get("values") or {}).get(name)
        if kept:
            return str(kept)
        if name in {"identifier", "email_address"} and self.identifier:
            return self.identifier
        return ""


def flow_state(flow: str) -> FlowState:
    """The state of this request's sign-in or sign-up (read once per request)."""
    cache = g.setdefault("_clerk_elements", {})
    if flow not in cache:
        cache[flow] = _sign_in() if flow == "sign_in" else _sign_up()
    return cache[flow]  # type: ignore[no-any-return]


def _sign_in() -> FlowState:
    from .views import sign_in_step

    step = sign_in_step()
    elements_step, strategy, endpoint = SIGN_IN_STEPS[step["name"]]
    if step["name"] == "second_factor":
        strategy = step["factor"]
    return FlowState(flow="sign_in", step=elements_step, strategy=strategy, endpoint=endpoint,
                     form=step["form"], identifier=step.get("identifier"),
                     strategies=tuple(step.get("strategies") or ()),
                     passkeys=bool(step.get("passkeys")), details=step)


def _sign_up() -> FlowState:
    from .views import sign_up_step
    from .waitlist import sign_up_waits

    step = sign_up_step()
    name = step["name"]
    if name == "start" and sign_up_waits() and not step.get("invitation"):
        name = "restricted"
    elements_step, strategy, endpoint = SIGN_UP_STEPS[name]
    invitation = step.get("invitation")
    return FlowState(flow="sign_up", step=elements_step, strategy=strategy, endpoint=endpoint,
                     form=step["form"], details=step,
                     identifier=invitation.email_address if invitation else step.get(
                         "email_address"))


_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_:.-]*")


def html_attrs(attrs: Mapping[str, Any], *, hooks: tuple[str, ...] = ()) -> Markup:
    """`` class="…" data-x="…"`` from a macro's keyword arguments: ``class_`` is
    ``class``, other underscores are dashes (``data_testid`` -> ``data-testid``),
    None and False leave an attribute out, True writes it bare. ``hooks`` (the
    ``cl-`` classes, when the page asked for them) come before the page's classes."""
    parts = []
    classes = " ".join([*hooks, str(attrs.get("class_") or attrs.get("class") or "")]).strip()
    for key in attrs:
        if not _ATTRIBUTE.fullmatch(key):
            raise ValueError(f"{key!r} is not an attribute name")
    if classes:
        parts.append(f' class="{escape(classes)}"')
    for key, value in attrs.items():
        if key in {"class_", "class"} or value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f" {escape(name)}" if value is True else
                     f' {escape(name)}="{escape(value)}"')
    return Markup("".join(parts))  # noqa: S704 - every part is escaped above
