"""How the components' forms are handled: CSRF, errors shown in place, PRG.

A component's form posts to the engine (``/__clerk/...``) with a ``return_to``
field naming the page it sits on. On success the view redirects (303). On a
``ClerkError`` the page at ``return_to`` is rendered again *in this response*,
with the message next to the field, the values kept and a 4xx status: so the
errors reach whichever page the app put the component on, with no state parked
in the session.

``return_to`` is signed when the component renders. Only a page that really
showed a component can be rendered back: a forged ``return_to=/admin`` falls
back to the account page, so the internal dispatch cannot reach routes that a
proxy or middleware in front of the app would have refused.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from io import BytesIO
from typing import Any, ParamSpec

from flask import current_app, redirect, request
from flask_wtf.csrf import CSRFError, validate_csrf
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from ..errors import ClerkError, RateLimited
from ..extension import state
from ..redirects import safe_redirect_url

FORM_STATE_ENVIRON_KEY = "flask_clerk.form_state"
P = ParamSpec("P")


def _return_to_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt="flask_clerk.return_to")


def sign_return_to(path: str) -> str:
    """The ``return_to`` value a component puts in its forms for page ``path``."""
    return str(_return_to_signer().dumps(path))


def return_to(fallback: str) -> str:
    """The page the posted form came from, if its signature holds; else ``fallback``."""
    try:
        path = _return_to_signer().loads(request.form.get("return_to", ""))
    except BadSignature:
        return fallback
    return safe_redirect_url(path if isinstance(path, str) else None, fallback=fallback)


def field(name: str) -> str:
    """A posted form field ("" when absent)."""
    return request.form.get(name, "")


def back(fallback: str) -> Response:
    """Redirect (303) to the page the form came from."""
    return redirect(return_to(fallback), 303)


def form_action(
    form: str, *, keep: tuple[str, ...] = (), fallback: str = "sign_in_url"
) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    """Decorate a POST view of form ``form``.

    ``keep`` names the fields to redisplay after an error (never a password);
    ``fallback`` names the settings URL to go back to without a valid ``return_to``.
    """

    def decorate(view: Callable[P, Response]) -> Callable[P, Response]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            back = return_to(getattr(state().settings, fallback))
            values = {name: request.form.get(name, "")[:320] for name in keep}
            try:
                validate_csrf(request.form.get("csrf_token"))
            except (ValidationError, CSRFError):
                return render_back(back, form, ClerkError("csrf_invalid", status=400), values)
            try:
                return view(*args, **kwargs)
            except RateLimited as error:
                response = render_back(back, form, error, values)
                response.headers["Retry-After"] = str(error.retry_after)
                return response
            except ClerkError as error:
                return render_back(back, form, error, values)

        return wrapper

    return decorate


def render_back(path: str, form: str, error: ClerkError, values: dict[str, str]) -> Response:
    """Render the page at ``path`` (a GET, same cookies) with ``error`` shown in ``form``."""
    messages = state().settings.messages
    form_state: dict[str, Any] = {"form": form, "values": values, "errors": {}, "error": None,
                                  "codes": {error.field or "": error.code}}
    if error.field:
        form_state["errors"][error.field] = error.message(messages)
    else:
        form_state["error"] = error.message(messages)
    response = _render_page(path, form_state)
    if response.status_code != 200:
        # The page would not show itself (it redirects a signed-in user, say):
        # answer with the error alone rather than lose its status.
        message = error.message(messages)
        return Response(message, status=error.status, mimetype="text/plain")
    response.status_code = error.status
    return response


def show_once(path: str, form: str, shown: dict[str, Any]) -> Response:
    """Answer a successful POST with the page at ``path`` showing ``shown`` to
    ``form`` (backup codes): they are in this response and stored nowhere else."""
    response = _render_page(path, {"form": form, "values": {}, "errors": {}, "error": None,
                                   "shown": shown})
    response.headers["Cache-Control"] = "no-store"
    return response


def _render_page(path: str, form_state: dict[str, Any]) -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    route, _, query = path.partition("?")
    environ = dict(request.environ)
    environ.update({
        "REQUEST_METHOD": "GET",
        "PATH_INFO": route,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": "0",
        "wsgi.input": BytesIO(),
        FORM_STATE_ENVIRON_KEY: form_state,
    })
    environ.pop("CONTENT_TYPE", None)
    with app.request_context(environ):
        response: Response = app.full_dispatch_request()
    return response


def form_state(*forms: str) -> dict[str, Any]:
    """What a failed POST left for one of ``forms`` (used by the components).

    A card-level error (rate limit, expired form) shows on whichever step of the
    same component is rendered: ``sign_in.start``'s 429 shows on ``sign_in.password``.
    """
    stash = request.environ.get(FORM_STATE_ENVIRON_KEY)
    if isinstance(stash, dict):
        if stash.get("form") in forms:
            return stash
        components = {f.split(".", 1)[0] for f in forms}
        if stash.get("error") and str(stash.get("form")).split(".", 1)[0] in components:
            return {**stash, "values": {}, "errors": {}}
    return {"form": None, "values": {}, "errors": {}, "error": None}
