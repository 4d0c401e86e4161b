"""Clerk's handshake, the issuer's side: ``GET /__clerk/v1/client/handshake``.

An app in remote mode (:mod:`flask_clerk.remote`), on another site, cannot read this
instance's cookies. When its session token is missing or stale it sends the browser
here, with ``redirect_url`` naming where to come back (an origin of
``CLERK_ALLOWED_REDIRECT_ORIGINS``). This instance looks at the browser's
``__client`` and sends it back with ``__clerk_handshake``: a JWT, signed with the
instance's key for that app's origin and for the asking browser (the ``nonce`` in
the URL: the digest of a value the app keeps in a cookie of its own), holding the
``Set-Cookie`` directives of a fresh session token and ``__client_uat`` (or of
signing out). The app verifies it with the keys it already trusts.

That is Clerk's handshake as its development instances carry it, in the URL. With
``format=nonce`` (Clerk's production form, which an app in remote mode asks for)
the URL carries ``__clerk_handshake_nonce`` instead: which session, for which app
and browser, sealed for this instance (a few hundred characters). The app's server
exchanges it for the answer through the Backend API
(``GET /v1/clients/handshake_payload?nonce=…``, with the secret key, within a
minute). Browser history and access logs then hold nothing that signs anyone in.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import redirect, request
from werkzeug.wrappers import Response

from ..core import sessions
from ..core.instance import RequestInfo
from ..core.secret_box import UnreadableSecret, open_sealed, seal
from ..extension import db_session, state
from ..redirects import safe_redirect_url
from ..request import CLIENT_COOKIE
from ..tokens import HANDSHAKE_LIFETIME, mint_handshake_token
from .views import bp

HANDSHAKE_PARAM = "__clerk_handshake"
HANDSHAKE_NONCE_PARAM = "__clerk_handshake_nonce"
CLIENT_UAT_COOKIE = "__client_uat"
SEAL_INFO = b"flask_clerk handshake"


@bp.get("/v1/client/handshake")
def client_handshake() -> Response:
    settings, instance = state().settings, state().instance
    target = safe_redirect_url(request.args.get("redirect_url"), fallback="",
                               allowed_origins=settings.allowed_redirect_origins)
    parts = urlsplit(target)
    if not parts.scheme:  # only an app's own absolute URL: where the directives are for
        return Response("redirect_url must be a URL of an app this instance serves "
                        "(CLERK_ALLOWED_REDIRECT_ORIGINS).", status=400, mimetype="text/plain")
    origin = f"{parts.scheme}://{parts.netloc}"
    nonce = request.args.get("nonce", "")
    if not 16 <= len(nonce) <= 128 or not nonce.isascii() or not nonce.replace(
            "-", "").replace("_", "").isalnum():
        return Response("nonce: the asking browser's random value is missing.", status=400,
                        mimetype="text/plain")
    client_token = request.cookies.get(CLIENT_COOKIE)
    refreshed = sessions.refresh_session(
        instance, db_session(), client_token,
        RequestInfo(ip_address=request.remote_addr, user_agent=request.user_agent.string,
                    origin=origin)) if client_token else None
    if request.args.get("format") == "nonce":  # Clerk's production form: no token in the URL
        carried = {HANDSHAKE_NONCE_PARAM: seal(settings, json.dumps({
            "sid": refreshed.session.id if refreshed else None, "aud": origin,
            "nonce": nonce}), info=SEAL_INFO)}
    else:
        carried = {HANDSHAKE_PARAM: _answer(
            origin, nonce, _directives(refreshed.token if refreshed else None))}
    query = (parts.query + "&" if parts.query else "") + urlencode(carried)
    # (never in a fragment, where the page's scripts would read it)
    response = redirect(urlunsplit(parts._replace(query=query, fragment="")), 307)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the answer is in the URL
    return response


def redeem(sealed: str) -> tuple[list[str], str]:
    """The answer a ``__clerk_handshake_nonce`` stands for, with a token of the
    session minted now (or "signed out", if it has ended since): its cookie
    directives and the signed answer. ValueError when this instance did not seal
    it in the last minute."""
    try:
        claims = json.loads(open_sealed(state().settings, sealed, info=SEAL_INFO,
                                        ttl=HANDSHAKE_LIFETIME))
    except UnreadableSecret as error:
        raise ValueError("not a handshake nonce of this instance's, or expired") from error
    origin, session_id = claims["aud"], claims.get("sid")
    token = sessions.refresh_session_by_id(
        state().instance, db_session(), session_id, RequestInfo(origin=origin)
    ) if session_id else None
    directives = _directives(token)
    return directives, _answer(origin, claims["nonce"], directives)


def _directives(session_token: str | None) -> list[str]:
    """The cookie directives of ``session_token``, or of signing out."""
    if session_token is None:
        return ["__session=; Path=/; Max-Age=0",
                f"{CLIENT_UAT_COOKIE}=0; Path=/; Max-Age=31536000"]
    return [f"__session={session_token}; Path=/; "
            f"Max-Age={state().settings.session_token_lifetime}",
            f"{CLIENT_UAT_COOKIE}={int(time.time())}; Path=/; Max-Age=31536000"]


def _answer(origin: str, nonce: str, directives: list[str]) -> str:
    """The answer signed for the app at ``origin`` and its browser's ``nonce``."""
    return mint_handshake_token(key=state().instance.signing_key(),
                                issuer=state().settings.issuer, audience=origin,
                                directives=directives, nonce=nonce)
