"""The dashboard's waitlist: the entries (by status, searched, in pages), and the
actions on them: invite (the invitation mails its link), reject, delete."""

from __future__ import annotations

from collections.abc import Callable

from flask import request, url_for
from sqlalchemy.orm import Session as DbSession
from werkzeug.wrappers import Response

from ...core import waitlist as flows
from ...core.instance import Instance
from ...core.models import WaitlistEntry
from ...extension import db_session, state
from ..forms import back, form_state
from . import (
    PAGE_SIZE,
    admin_view,
    audited,
    bp,
    dashboard_action,
    page_number,
    render_page,
)

STATUS_FILTERS = {"": "All", "pending": "Pending", "invited": "Invited",
                  "completed": "Completed", "rejected": "Rejected"}


@bp.get("/waitlist")
@admin_view
def waitlist() -> Response:
    query = request.args.get("query", "").strip()[:200]
    status = request.args.get("status", "")
    status = status if status in STATUS_FILTERS else ""
    page = page_number()
    entries, total = flows.list_entries(
        db_session(), query=query or None, status=status or None, order_by="-created_at",
        limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_page("waitlist", entries=entries, total=total, page=page,
                       pages=max(1, -(-total // PAGE_SIZE)), query=query, status=status,
                       statuses=STATUS_FILTERS, open=state().settings.sign_up_mode == "waitlist",
                       form=form_state("dashboard.waitlist"))


def _act(entry_id: str, event: str,
         flow: Callable[[Instance, DbSession, WaitlistEntry], object]) -> Response:
    """``flow`` on the entry, audited as ``event``; back to the list as it was (its
    filters and page)."""
    entry = flows.get_entry(db_session(), entry_id)
    with audited(event, ("waitlist_entry", entry.id), email=entry.email_address):
        flow(state().instance, db_session(), entry)
    return back(url_for(".waitlist"))


@bp.post("/waitlist/<entry_id>/invite")
@dashboard_action("waitlist")
def invite_waitlist_entry(entry_id: str) -> Response:
    return _act(entry_id, "waitlist_entry.invited", flows.invite_entry)


@bp.post("/waitlist/<entry_id>/reject")
@dashboard_action("waitlist")
def reject_waitlist_entry(entry_id: str) -> Response:
    return _act(entry_id, "waitlist_entry.rejected", flows.reject_entry)


@bp.post("/waitlist/<entry_id>/delete")
@dashboard_action("waitlist")
def delete_waitlist_entry(entry_id: str) -> Response:
    return _act(entry_id, "waitlist_entry.deleted", flows.delete_entry)
