"""Analytics: daily sign-ups, daily active users and monthly active users (MAU,
the unit of Clerk's pricing). A user is active on a day (UTC) when they sign in or
a session of theirs is refreshed; each session records its day once, so the cost
is one insert per session per day. Impersonations do not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as DbSession

from .models import User, UserActivity

FREE_MAU = 10_000  # Clerk's free tier, for comparison


def record_activity(db: DbSession, user_id: str, at: datetime) -> None:
    """``user_id`` was active on ``at``'s day (idempotent; the caller commits)."""
    dialect = db.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.execute(insert(UserActivity).values(user_id=user_id, day=at.astimezone(UTC).date())
               .on_conflict_do_nothing())


def record_new_day(db: DbSession, user_id: str, last: datetime | None, now: datetime) -> None:
    """Record ``now``'s day unless ``last`` (the previous activity seen) was already
    on it: one insert per day, not per request."""
    if last is None or last.astimezone(UTC).date() != now.astimezone(UTC).date():
        record_activity(db, user_id, now)


def _day(db: DbSession, column: Any) -> Any:
    """A UTC timestamp column's day, in SQL."""
    if db.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass(frozen=True)
class Report:
    days: list[date]
    sign_ups: list[int]  # per day
    active: list[int]  # per day (DAU)
    months: list[tuple[date, int]]  # (first day of the month, MAU), for the months touched

    @property
    def total_sign_ups(self) -> int:
        return sum(self.sign_ups)


def report(db: DbSession, start: date, end: date) -> Report:
    """The counts for every day from ``start`` to ``end`` (inclusive)."""
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    day = _day(db, User.created_at)
    sign_ups = {_as_date(d): n for d, n in db.execute(
        select(day, func.count()).where(User.created_at >= since, User.created_at < until)
        .group_by(day)).all()}
    active = {_as_date(d): n for d, n in db.execute(
        select(UserActivity.day, func.count()).where(UserActivity.day.between(start, end))
        .group_by(UserActivity.day)).all()}
    months = sorted({d.replace(day=1) for d in days})
    return Report(days=days, sign_ups=[sign_ups.get(d, 0) for d in days],
                  active=[active.get(d, 0) for d in days],
                  months=[(m, monthly_active_users(db, m)) for m in months])


def monthly_active_users(db: DbSession, month: date) -> int:
    """Distinct users active in the calendar month that ``month`` is in."""
    first = month.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    return db.scalar(select(func.count(func.distinct(UserActivity.user_id)))
                     .where(UserActivity.day >= first, UserActivity.day < after)) or 0
