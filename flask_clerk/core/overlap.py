"""Short database work run on a second thread while the caller sits in a long C
call that releases the GIL (an argon2 verify).

A password sign-in spends some 30 ms inside argon2 and a few more in SQL and in
the RSA signature of its first token. One after the other, those few ms add to
what the user waits for; beside the hash, on another core, they don't. The CPU
time is the same either way: this buys latency, not throughput.

The database work goes to the worker and the C call stays on the calling thread:
the caller drops the GIL as soon as it enters the C call, so the worker starts at
once (the other way round, the worker would wait for the GIL while the caller
runs Python).

There is no queue: when every worker is busy, or the database cannot be used
from another thread (an in-memory SQLite database lives in one connection), the
two callables simply run one after the other on the calling thread; and work no
worker has started by the time the foreground is done is taken back and done
there too. So nothing ever waits for a worker that cannot come.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")


class Overlap:
    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._free = threading.BoundedSemaphore(max(workers, 1))
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._lock = threading.Lock()

    def run(self, background: Callable[[], A], foreground: Callable[[], B]) -> tuple[A, B]:
        """``(background(), foreground())``, the first on a worker thread.

        Both always run to the end; then the background's exception, if any, is
        raised (the foreground's first, if it raised too). ``background`` runs in a
        copy of the caller's context, and the caller must not touch what it uses
        (its database session, say) until this returns, which it does only once
        ``background`` has finished.
        """
        if self._workers == 0 or not self._free.acquire(blocking=False):
            return background(), foreground()
        try:
            future = self._executor().submit(contextvars.copy_context().run, background)
        except BaseException:
            self._free.release()
            raise
        future.add_done_callback(lambda _done: self._free.release())
        try:
            mine = foreground()
        except BaseException:
            if not future.cancel():
                wait([future])
            raise
        if future.cancel():
            # No worker got to it all this time (a server that runs no Python
            # threads of the application's, say): do it here.
            return background(), mine
        return future.result(), mine

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            # A forked worker process (gunicorn --preload) inherits the pool object
            # but none of its threads: it makes its own.
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="flask_clerk")
                self._pool_pid = os.getpid()
            return self._pool
