"""The waitlist's form (``POST /__clerk/waitlist``) and the state of the Waitlist
component and of the sign-up page in ``waitlist`` mode: thin, over
:mod:`flask_clerk.core.waitlist`."""

from __future__ import annotations

from typing import Any

from flask import after_this_request, request
from werkzeug.wrappers import Response

from ..core import waitlist
from ..core.invitations import find_pending_invitation
from ..extension import db_session, request_info, state
from .forms import back, field, form_action, form_state
from .views import bp

# Set by a successful join, read (and dropped) by the next rendering of the component:
# "Thanks for joining" shows once, whatever page the component is on. It says nothing
# but that this browser joined.
JOINED_COOKIE = "__clerk_waitlist_joined"


@bp.post("/waitlist")
@form_action("waitlist.join", keep=("email_address",), fallback="waitlist_url")
def waitlist_join() -> Response:
    waitlist.join_waitlist(state().instance, db_session(), request_info(),
                           email_address=field("email_address"))
    response = back(state().settings.waitlist_url)
    response.set_cookie(JOINED_COOKIE, "1", max_age=600, httponly=True,
                        secure=state().settings.cookie_secure, samesite="Lax")
    return response


def waitlist_context() -> dict[str, Any]:
    """The Waitlist component's state: open (waitlist mode) or not, joined or not."""
    joined = JOINED_COOKIE in request.cookies
    if joined:
        @after_this_request
        def forget(response: Response) -> Response:
            response.delete_cookie(JOINED_COOKIE, httponly=True,
                                   secure=state().settings.cookie_secure, samesite="Lax")
            return response
    return {"mode": state().settings.sign_up_mode, "joined": joined,
            "form": form_state("waitlist.join")}


def sign_up_waits() -> bool:
    """In ``waitlist`` mode the sign-up page leads to the waitlist (as Clerk's does),
    unless its URL carries the ticket of a pending invitation."""
    if state().settings.sign_up_mode != "waitlist":
        return False
    return find_pending_invitation(db_session(), request.args.get("__clerk_ticket")) is None
