"""core/overlap.py: database work on a worker thread beside a long C call."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from flask_clerk.core.overlap import Overlap
from flask_clerk.core.store import Store


def test_background_runs_on_a_worker_while_the_foreground_runs():
    overlap = Overlap(workers=2)
    background_started, foreground_started = threading.Event(), threading.Event()

    def background():
        background_started.set()
        # Run in turn, this would wait (in vain) until the timeout.
        return threading.get_ident(), foreground_started.wait(5)

    def foreground():
        foreground_started.set()
        background_started.wait(5)
        return threading.get_ident()

    (worker, saw_foreground), caller = overlap.run(background, foreground)
    assert saw_foreground
    assert caller == threading.get_ident() != worker


def test_without_a_free_worker_both_run_in_turn_on_the_caller():
    overlap = Overlap(workers=1)
    inner = {}
    release = threading.Event()

    def busy_worker():
        release.wait(5)

    def foreground():
        # The only worker is taken: no queue, no wait, the caller does both.
        inner["result"] = overlap.run(threading.get_ident, threading.get_ident)
        release.set()

    overlap.run(busy_worker, foreground)
    assert inner["result"] == (threading.get_ident(), threading.get_ident())
    started = threading.Event()

    def background():
        started.set()
        return threading.get_ident()

    assert overlap.run(background, lambda: started.wait(5)) != (threading.get_ident(), True), (
        "the worker was free again")


def test_work_no_worker_started_is_done_by_the_caller(monkeypatch):
    """A server that never runs the application's threads must not hang a sign-in."""
    from concurrent.futures import Future

    class StalledPool:
        def submit(self, *args):
            return Future()  # pending for ever

    overlap = Overlap(workers=1)
    monkeypatch.setattr(overlap, "_executor", StalledPool)
    assert overlap.run(threading.get_ident, lambda: 2) == (threading.get_ident(), 2)
    assert overlap.run(threading.get_ident, lambda: 3) == (threading.get_ident(), 3), (
        "the taken-back work gave its worker slot back")


def test_no_workers_means_in_turn():
    order = []
    result = Overlap(workers=0).run(lambda: order.append("background") or threading.get_ident(),
                                    lambda: order.append("foreground") or 2)
    assert result == (threading.get_ident(), 2) and order == ["background", "foreground"]


def test_a_background_error_is_raised_after_the_foreground_finished():
    done = []

    def background():
        raise LookupError("locked")

    def foreground():
        time.sleep(0.05)
        done.append(True)

    with pytest.raises(LookupError, match="locked"):
        Overlap(workers=1).run(background, foreground)
    assert done == [True]


def test_a_foreground_error_waits_for_the_background():
    done = []

    def background():
        time.sleep(0.1)
        done.append(True)

    def foreground():
        raise ValueError("hash failed")

    with pytest.raises(ValueError, match="hash failed"):
        Overlap(workers=1).run(background, foreground)
    assert done == [True], "the caller got control back while its worker still ran"


def test_the_background_sees_the_callers_context():
    var = contextvars.ContextVar("var", default="unset")
    var.set("the caller's")
    assert Overlap(workers=1).run(var.get, lambda: None)[0] == "the caller's"


@pytest.mark.parametrize("url, in_memory", [
    ("sqlite://", True), ("sqlite:///:memory:", True), ("sqlite:///{tmp}/clerk.db", False),
])
def test_in_memory_sqlite_is_recognised(url, in_memory, tmp_path):
    store = Store(url.format(tmp=tmp_path))
    try:
        assert store.in_memory is in_memory
    finally:
        store.engine.dispose()
