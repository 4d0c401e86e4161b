"""The dashboard's analytics: daily sign-ups, daily active users and monthly active
users (MAU) for a date range, as charts (server-side SVG, no script) and as the
counts behind them (``/analytics.json``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import jsonify, request
from werkzeug.wrappers import Response

from ...core import analytics, clock
from ...extension import db_session
from . import admin_view, bp, render_page

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _range() -> tuple[date, date]:
    """``since``/``until`` (YYYY-MM-DD, UTC days, inclusive); the last 30 days by
    default, at most a year."""
    today = clock.now().astimezone(UTC).date()

    def day(name: str) -> date | None:
        try:
            return datetime.strptime(request.args.get(name, ""), "%Y-%m-%d").date()
        except ValueError:
            return None

    first = date(2000, 1, 1)  # nothing older to count, and no date arithmetic overflows
    until = max(min(day("until") or today, today), first + timedelta(days=MAX_DAYS))
    since = day("since") or until - timedelta(days=DEFAULT_DAYS - 1)
    since = max(min(since, until), until - timedelta(days=MAX_DAYS - 1))
    return since, until


def _bars(values: list[int]) -> dict[str, Any]:
    """An SVG bar chart's geometry: one bar per day in a 100-high box."""
    top = max(values + [1])
    return {"top": top, "width": len(values) * 10,
            "bars": [{"x": i * 10 + 1, "height": round(v / top * 90, 2), "value": v}
                     for i, v in enumerate(values)]}


@bp.get("/analytics")
@admin_view
def analytics_page() -> Response:
    since, until = _range()
    report = analytics.report(db_session(), since, until)
    return render_page("analytics", report=report, since=since, until=until,
                       sign_ups=_bars(report.sign_ups), active=_bars(report.active),
                       free=analytics.FREE_MAU)


@bp.get("/analytics.json")
@admin_view
def analytics_json() -> Response:
    since, until = _range()
    report = analytics.report(db_session(), since, until)
    response = jsonify({
        "since": since.isoformat(), "until": until.isoformat(),
        "days": [{"date": d.isoformat(), "sign_ups": s, "active_users": a}
                 for d, s, a in zip(report.days, report.sign_ups, report.active, strict=True)],
        "monthly_active_users": [{"month": m.strftime("%Y-%m"), "count": c}
                                 for m, c in report.months],
    })
    return response
