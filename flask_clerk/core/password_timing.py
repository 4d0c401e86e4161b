"""The least time a failed password check takes while imported digests remain.

An imported digest is verified with its own algorithm until its user's first sign-in
replaces it with argon2id. bcrypt-12 takes some 250 ms where our argon2id takes 20:
left alone, a wrong password would answer "this account exists and was imported" by
its slowness (and an imported MD5 by its speed).

So while imported digests remain, every failed check (unknown identifier, our own
digest, an imported one) is padded by sleeping up to a floor: the verify time of the
slowest imported class present, and at least our own argon2id's, capped at
``cap`` (1 s). The floor is measured, not guessed: for each hasher in the store its
most expensive digest (bcrypt: the highest cost) is verified once with a wrong
password. It is kept ``ttl`` (60 s), then re-measured by the next failing check while
the others keep the old value; after an import, :meth:`invalidate` has the next
failure measure at once. With no imported digest the floor is 0 and costs one query
a minute, made by a failure; a success never reads it.

What it does not hide: a correct password on an imported account still takes that
digest's time, once (the digest is argon2id after that sign-in); a class slower than
the cap still shows beyond it; a failure costs a thread's sleep, not CPU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from .models import User
from .password_digests import verify_digest, work_factor
from .passwords import PasswordHasher
from .store import Store

CAP = 1.0  # seconds: no failure waits longer than this
TTL = 60.0  # seconds a measured floor is kept
SAMPLE = 200  # digests read per hasher whose cost is not at a fixed place
PROBE = "flask_clerk timing probe"  # the wrong password the floor is measured with
# (start, length) in SQL's 1-based substr of the digest's cost: grouping by it finds
# every cost present. bcrypt "$2b$12$", Django's "bcrypt_sha256$$2b$12$", "$P$B".
COST_AT = {"bcrypt": (5, 2), "bcrypt_sha256_django": (19, 2), "phpass": (4, 1)}

# (hasher or None for our argon2id, digest) -> seconds one wrong-password verify takes
Timer = Callable[[str | None, str], float]


class FailureFloor:
    def __init__(
        self, store: Store, hasher: PasswordHasher, *, cap: float = CAP, ttl: float = TTL,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep, timer: Timer | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._cap = cap
        self._ttl = ttl
        self.clock = clock
        self._sleep = sleep
        self._timer = timer or self._time_verify
        self._floor: float | None = None
        self._measured_at = 0.0
        self._lock = threading.Lock()

    def padding(self) -> Padding:
        """``with floor.padding():`` around a password check: an exception leaving
        it (a refusal) leaves no sooner than the floor after the block began."""
        return Padding(self)

    def pad(self, started: float) -> None:
        """Sleep what remains of the floor since ``started`` (a ``clock()`` reading)."""
        remaining = self.floor() - (self.clock() - started)
        if remaining > 0:
            self._sleep(remaining)

    def floor(self) -> float:
        """Seconds, 0.0 while no imported digest exists."""
        floor = self._floor
        if floor is not None and self.clock() - self._measured_at < self._ttl:
            return floor
        # One caller measures; the others keep the previous floor meanwhile (or wait
        # for the first one there is).
        if not self._lock.acquire(blocking=floor is None):
            assert floor is not None
            return floor
        try:
            if self._floor is None or self.clock() - self._measured_at >= self._ttl:
                self._floor = self._measure()
                self._measured_at = self.clock()
            return self._floor
        finally:
            self._lock.release()

    def invalidate(self) -> None:
        """Digests were imported (or replaced): the next failure measures again."""
        self._measured_at = float("-inf")

    def _measure(self) -> float:
        with self._store.session() as db:
            samples = imported_digest_samples(db)
        if not samples:
            return 0.0
        # Unknown identifiers and our own digests take argon2id's time: an imported
        # digest faster than that (MD5) is padded up to it.
        slowest = self._timer(None, "")
        for hasher, digests in sorted(samples.items()):
            if slowest >= self._cap:
                break
            costliest = max(digests, key=lambda digest: work_factor(hasher, digest))
            slowest = max(slowest, self._timer(hasher, costliest))
        return min(slowest, self._cap)

    def _time_verify(self, hasher: str | None, digest: str) -> float:
        started = time.perf_counter()
        if hasher is None:
            self._hasher.verify_dummy(PROBE)
        else:
            verify_digest(hasher, digest, PROBE)
        return time.perf_counter() - started


class Padding:
    """The context :meth:`FailureFloor.padding` returns."""

    __slots__ = ("_floor", "_started")

    def __init__(self, floor: FailureFloor) -> None:
        self._floor = floor
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = self._floor.clock()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is not None and issubclass(kind, Exception):
            self._floor.pad(self._started)


def imported_digest_samples(db: DbSession) -> dict[str, list[str]]:
    """For each hasher of imported digests in the store, digests among which its most
    expensive is: one per cost where the cost sits at a fixed place in the digest,
    else the first ``SAMPLE`` (one system's export shares its parameters)."""
    hashers = db.scalars(select(User.password_hasher).distinct()
                         .where(User.password_hasher.is_not(None))).all()
    samples: dict[str, list[str]] = {}
    for hasher in hashers:
        assert hasher is not None
        of_hasher = User.password_hasher == hasher
        if hasher in COST_AT:
            cost = func.substr(User.password_digest, *COST_AT[hasher])
            query = select(func.min(User.password_digest)).where(of_hasher).group_by(cost)
        else:
            query = select(User.password_digest).where(of_hasher).limit(SAMPLE)
        digests = [digest for digest in db.scalars(query) if digest]
        if digests:
            samples[hasher] = digests
    return samples
