"""The dashboard's waitlist: the entries (by status, searched, in pages), and the
actions on them: invite (the invitation mails its link), reject, delete."""

from __future__ import annotations

from flask import request, url_for
from werkzeug.wrappers import Response

from ...core import waitlist as flows
from ...core.models import WaitlistEntry
from ...extension import db_session, state
from ..forms import back, form_state
from . import PAGE_SIZE, admin_view, audited, bp, dashboard_action, page_number, render_page

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


def _entry(entry_id: str) -> WaitlistEntry:
    return flows.get_entry(db_session(), entry_id)


def _back() -> Response:
    """To the list as it was (its filters and page)."""
    return back(url_for(".waitlist"))


@bp.post("/waitlist/<entry_id>/invite")
@dashboard_action("waitlist")
def invite_waitlist_entry(entry_id: str) -> Response:
    entry = _entry(entry_id)
    with audited("waitlist_entry.invited", ("waitlist_entry", entry.id),
                 email=entry.email_address):
        flows.invite_entry(state().instance, db_session(), entry)
    return _back()


@bp.post("/waitlist/<entry_id>/reject")
@dashboard_action("waitlist")
def reject_waitlist_entry(entry_id: str) -> Response:
    entry = _entry(entry_id)
    with audited("waitlist_entry.rejected", ("waitlist_entry", entry.id),
                 email=entry.email_address):
        flows.reject_entry(state().instance, db_session(), entry)
    return _back()


@bp.post("/waitlist/<entry_id>/delete")
@dashboard_action("waitlist")
def delete_waitlist_entry(entry_id: str) -> Response:
    entry = _entry(entry_id)
    with audited("waitlist_entry.deleted", ("waitlist_entry", entry.id),
                 email=entry.email_address):
        flows.delete_entry(state().instance, db_session(), entry)
    return _back()
