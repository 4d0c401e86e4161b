"""``/v1/waitlist_entries``: the waitlist, listed, added to, invited, rejected."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from ...core import waitlist
from ...core.serializers import waitlist_entry_json
from ...errors import ClerkError
from ...extension import db_session, state
from . import bp, json_response
from .params import Body, check_query, page

QUERY_MAX = 200


@bp.get("/waitlist_entries")
def list_waitlist_entries() -> Response:
    check_query({"limit", "offset", "query", "status", "order_by"})
    limit, offset = page()
    query = request.args.get("query") or None
    if query is not None and len(query) > QUERY_MAX:
        raise ClerkError("form_param_format_invalid", field="query")
    found, total = waitlist.list_entries(
        db_session(), query=query, status=request.args.get("status") or None,
        order_by=request.args.get("order_by") or "-created_at", limit=limit, offset=offset)
    return json_response({"data": [waitlist_entry_json(e) for e in found],
                          "total_count": total})


@bp.post("/waitlist_entries")
def create_waitlist_entry() -> Response:
    body = Body.from_request()
    email = body.take("email_address", str, required=True)
    notify = body.take("notify", bool)
    body.done()
    entry = waitlist.add_entry(state().instance, db_session(), email_address=email,
                               notify=notify is not False)
    return json_response(waitlist_entry_json(entry))


@bp.delete("/waitlist_entries/<waitlist_entry_id>")
def delete_waitlist_entry(waitlist_entry_id: str) -> Response:
    db = db_session()
    entry = waitlist.get_entry(db, waitlist_entry_id)
    waitlist.delete_entry(state().instance, db, entry)
    return json_response({"object": "waitlist_entry", "id": waitlist_entry_id, "deleted": True})


@bp.post("/waitlist_entries/<waitlist_entry_id>/invite")
def invite_waitlist_entry(waitlist_entry_id: str) -> Response:
    body = Body.from_request()
    ignore_existing = body.take("ignore_existing", bool)
    body.done()
    db = db_session()
    entry = waitlist.invite_entry(state().instance, db, waitlist.get_entry(db, waitlist_entry_id),
                                  ignore_existing=bool(ignore_existing))
    return json_response(waitlist_entry_json(entry))


@bp.post("/waitlist_entries/<waitlist_entry_id>/reject")
def reject_waitlist_entry(waitlist_entry_id: str) -> Response:
    Body.from_request().done()
    db = db_session()
    entry = waitlist.reject_entry(state().instance, db, waitlist.get_entry(db, waitlist_entry_id))
    return json_response(waitlist_entry_json(entry))
