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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import g, url_for
from markupsafe import Markup, escape

# The prebuilt step's name -> (the Elements step, its strategy, the endpoint its form posts to).
SIGN_IN_STEPS: dict[str, tuple[str, str | None, str | None]] = {
    "start": ("start", None, "clerk.sign_in_start"),
    "password": ("verifications", "password", "clerk.sign_in_password"),
    "email_code": ("verifications", "email_code", "clerk.sign_in_email_code"),
    "email_link": ("verifications", "email_link", "clerk.sign_in_email_code"),
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
# action(navigate=…) targets that are a POST to the engine (the rest are links).
NAVIGATIONS = {
    ("sign_in", "start"): "clerk.sign_in_restart",
    ("sign_in", "forgot-password"): "clerk.sign_in_forgot_password",
    ("sign_up", "start"): "clerk.sign_up_restart",
}
RESEND = {"sign_in": "clerk.sign_in_strategy", "sign_up": "clerk.sign_up_resend"}
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
        apart."""
        name = name.replace("_", "-")
        internal = self.details.get("name")
        return name == self.step or (name, internal) in {
            ("second-factor", "second_factor"), ("forgot-password", "reset_code")}

    @property
    def action(self) -> str | None:
        return url_for(self.endpoint) if self.endpoint else None

    def navigate_endpoint(self, target: str) -> str | None:
        endpoint = NAVIGATIONS.get((self.flow, target))
        return url_for(endpoint) if endpoint else None

    @property
    def resend_action(self) -> str:
        return url_for(RESEND[self.flow])

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
    return FlowState(flow="sign_up", step=elements_step, strategy=strategy, endpoint=endpoint,
                     form=step["form"], identifier=step.get("email_address"), details=step)


def html_attrs(attrs: Mapping[str, Any], *, hooks: tuple[str, ...] = ()) -> Markup:
    """`` class="…" data-x="…"`` from a macro's keyword arguments: ``class_`` is
    ``class``, other underscores are dashes (``data_testid`` -> ``data-testid``),
    None and False leave an attribute out, True writes it bare. ``hooks`` (the
    ``cl-`` classes, when the page asked for them) come before the page's classes."""
    parts = []
    classes = " ".join([*hooks, str(attrs.get("class_") or attrs.get("class") or "")]).strip()
    if classes:
        parts.append(f' class="{escape(classes)}"')
    for key, value in attrs.items():
        if key in {"class_", "class"} or value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f" {escape(name)}" if value is True else
                     f' {escape(name)}="{escape(value)}"')
    return Markup("".join(parts))  # noqa: S704 - every part is escaped above
