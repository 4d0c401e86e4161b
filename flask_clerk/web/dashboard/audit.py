"""The dashboard's audit log: filtered, paged, exported as JSON Lines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from flask import request, url_for
from werkzeug.wrappers import Response

from ...core import admins
from ...extension import db_session, state
from . import PAGE_SIZE, admin_view, audited, bp, page_number, render_page

# -- The audit log ------------------------------------------------------------------------


def _audit_filters() -> admins.AuditFilters:
    def day(name: str, shift: int = 0) -> datetime | None:  # a day in UTC, as the page shows
        try:
            value = datetime.strptime(request.args.get(name, ""), "%Y-%m-%d")
            return (value + timedelta(days=shift)).replace(tzinfo=UTC)
        except (ValueError, OverflowError):
            return None

    return admins.AuditFilters(
        actor=request.args.get("actor", "").strip()[:320] or None,
        action=request.args.get("action", "").strip()[:64] or None,
        target_id=request.args.get("target", "").strip()[:64] or None,
        since=day("since"), until=day("until", 1))


@bp.get("/audit")
@admin_view
def audit() -> Response:
    page = page_number()
    entries = admins.audit_entries(db_session(), _audit_filters(), limit=PAGE_SIZE + 1,
                                   offset=(page - 1) * PAGE_SIZE)
    args = {k: v for k, v in request.args.items() if k != "page"}
    export = url_for(".audit_export") + ("?" + urlencode(args) if args else "")
    return render_page("audit", entries=entries[:PAGE_SIZE], page=page,
                       more=len(entries) > PAGE_SIZE, args=args, export=export)


@bp.get("/audit.jsonl")
@admin_view
def audit_export() -> Response:
    filters, store = _audit_filters(), state().instance.store
    with audited("audit_log.exported") as entry:
        entry.details = {k: v for k, v in request.args.items() if v}

    def lines() -> Iterator[str]:
        with store.session() as db:  # its own: the request's is gone while this streams
            yield from admins.audit_jsonl(db, filters)

    response = Response(lines(), mimetype="application/x-ndjson")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.jsonl"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


