"""Outbound webhooks: outbox throughput and commit-to-delivery latency, over real HTTP.

Run with ``make bench`` (after ``request_overhead.py``) or
``.venv/bin/python bench/webhooks.py``; about 45-55 s on 2 cores. ``--help`` lists
the knobs; ``--profile`` adds a cProfile of one delivery pass.

Setup: a flask_clerk app (``ClerkAuth``, SQLite in a temporary directory, WAL as
the store configures it, ``CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS`` on, the built-in
worker off) with one enabled endpoint subscribed to ``user.updated``. Every event
carries the real ``user_json`` of a real user (about 1 KB of JSON), emitted with
``flask_clerk.core.webhooks.emit`` in the caller's transaction, as the flows do.

The receiver runs in a separate process (``multiprocessing``, spawn), so it takes
neither the sender's GIL nor its core: a minimal WSGI app served by werkzeug's
``make_server(..., threaded=True)`` on 127.0.0.1 that reads the body, verifies the
Svix signature with the ``svix`` library (``Webhook(secret).verify``, as
``flask_clerk.ClerkWebhooks`` does; ``--no-verify`` skips it), records
``(svix-id, time.time())`` on a ``multiprocessing.Queue`` and answers 200. Every
delivery the sender counts must have reached it with a valid signature, and every
delivery row must end ``succeeded``; otherwise the run aborts.

1. Throughput: the outbox is filled with ``--events`` pending events (emitted in
   transactions of 250), then ``deliver_due(instance, limit=--limit)`` passes with
   the real ``http_sender`` run back to back until the outbox is drained or
   ``--budget`` seconds have passed (a pass that started always finishes), first
   on one thread (what ``WebhookWorker``/``flask clerk worker`` does), then on two
   threads calling it concurrently (two workers; leases keep them off each other's
   deliveries). Figure: deliveries / wall-clock seconds of the passes. Before each
   configuration the outbox is topped up to ``--events`` pending events again. The
   share of the time spent inside the sender (HTTP) is measured by wrapping it;
   the rest is the outbox's own work (lease, loading the delivery, signing,
   recording the attempt, commits).
   For information (``--info-budget`` seconds each): the same with a sender that
   keeps one ``httpx.Client`` (connection pool, keep-alive) for all deliveries, on
   one and two threads; with a sender that answers 200 without any network (what
   the outbox itself can do); and the bare HTTP without the outbox, ``httpx.post``
   per request vs. one shared client, one second each.
2. Latency: a ``WebhookWorker(instance)`` thread (real sender, 1 s idle poll) is
   started and left idle; then ``--samples`` times, one event is emitted and
   committed in its own transaction, and the time from just after ``db.commit()``
   returns (``time.time()``) to the receiver getting the request (``time.time()``
   in the receiver process; same clock) is recorded. The next event is committed
   ``--gap-ms`` after the previous one arrived, so the worker is idle (woken by the
   session's after_commit) each time. The sender is wrapped to note when it is
   called, which splits the latency into "commit to send" (wake-up, lease, load,
   sign) and "send to arrival" (the HTTP client and request).

Targets (from the issue): >= 300 deliveries/s, judged on the better of the two
real-sender configurations; median commit-to-delivery latency <= 200 ms.
The last line of output is one JSON object for machines. ``--check`` makes the
exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import multiprocessing
import os
import platform
import pstats
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from flask import Flask
from sqlalchemy import func, select, update

from flask_clerk import ClerkAuth
from flask_clerk.cli import new_instance_keys
from flask_clerk.core import webhooks as outbox
from flask_clerk.core.models import Base, WebhookDelivery
from flask_clerk.core.serializers import user_json
from flask_clerk.core.users import create_user
from flask_clerk.core.webhook_worker import WebhookWorker

THROUGHPUT_TARGET = 300.0  # deliveries/s
LATENCY_TARGET = 200.0  # ms, median
EVENT = "user.updated"
PATH = "/webhooks/clerk"

# --- the receiver (a separate process) ------------------------------------------------------

Arrival = tuple[str, float, bool]  # (svix-id, time.time() on arrival, signature valid)


def receiver_main(secret: str, verify: bool, arrivals: Any, ready: Any) -> None:
    """Serve until terminated; every POST's arrival goes on ``arrivals``."""
    from svix.webhooks import Webhook, WebhookVerificationError
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    webhook = Webhook(secret)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        received = time.time()
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        svix_id = environ.get("HTTP_SVIX_ID", "")
        valid = True
        if verify:
            try:
                webhook.verify(body, {"svix-id": svix_id,
                                      "svix-timestamp": environ.get("HTTP_SVIX_TIMESTAMP", ""),
                                      "svix-signature": environ.get("HTTP_SVIX_SIGNATURE", "")})
            except WebhookVerificationError:
                valid = False
        arrivals.put((svix_id, received, valid))
        start_response("200 OK" if valid else "400 Bad Request",
                       [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server = make_server("127.0.0.1", 0, app, threaded=True)
    ready.send(server.server_port)
    server.serve_forever()


class Receiver:
    def __init__(self, secret: str, verify: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self.arrivals: Any = context.Queue()
        ours, theirs = context.Pipe()
        self.process = context.Process(target=receiver_main, name="webhook-receiver",
                                       args=(secret, verify, self.arrivals, theirs),
                                       daemon=True)
        self.process.start()
        if not ours.poll(30):
            sys.exit("receiver: did not start within 30 s")
        self.port: int = ours.recv()
        self.url = f"http://127.0.0.1:{self.port}{PATH}"

    def collect(self, expected: int, timeout: float = 5.0) -> list[Arrival]:
        """The arrivals so far; waits (up to ``timeout``) until ``expected`` are in."""
        got: list[Arrival] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                wait = 0.0 if len(got) >= expected else max(0.0, deadline - time.monotonic())
                got.append(self.arrivals.get(timeout=wait) if wait else
                           self.arrivals.get_nowait())
            except queue.Empty:
                return got

    def wait_for(self, svix_id: str, timeout: float = 10.0) -> float:
        """The arrival time of ``svix_id`` (earlier arrivals are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                got, at, valid = self.arrivals.get(timeout=max(0.001,
                                                               deadline - time.monotonic()))
            except queue.Empty:
                sys.exit(f"latency: {svix_id} did not arrive within {timeout:g} s")
            if not valid:
                sys.exit(f"receiver: invalid signature on {got}")
            if got == svix_id:
                return at

    def close(self) -> None:
        self.process.terminate()
        self.process.join(5)


# --- the sending side ---------------------------------------------------------------------


class TimedSender:
    """Wraps a sender: total seconds inside it, and when each svix-id was handed to it."""

    def __init__(self, send: outbox.Sender) -> None:
        self._send = send
        self._lock = threading.Lock()
        self.seconds = 0.0
        self.called_at: dict[str, float] = {}

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> outbox.Response:
        with self._lock:  # before sending: the receiver may report it before send returns
            self.called_at[headers["svix-id"]] = time.time()
        started = time.perf_counter()
        try:
            return self._send(url, body, headers)
        finally:
            spent = time.perf_counter() - started
            with self._lock:
                self.seconds += spent


def pooled_sender() -> tuple[outbox.Sender, httpx.Client]:
    """``http_sender`` with one shared ``httpx.Client`` (pool, keep-alive): the fix."""
    client = httpx.Client(timeout=outbox.TIMEOUT, follow_redirects=False)

    def send(url: str, body: bytes, headers: dict[str, str]) -> outbox.Response:
        answer = client.post(url, content=body, headers=headers)
        retry_after = answer.headers.get("retry-after")
        return outbox.Response(answer.status_code, answer.text[:1000],
                               int(retry_after) if retry_after and retry_after.isdigit()
                               else None)

    return send, client


class Engine:
    """The flask_clerk app whose outbox is measured."""

    def __init__(self, tmp: str) -> None:
        keys = new_instance_keys("localhost/__clerk")
        app = Flask("bench_webhooks", instance_path=tmp)
        # Not the "development instance without debug" warning: that is what this is.
        logging.getLogger(app.name).setLevel(logging.ERROR)
        app.config.update(
            SECRET_KEY=keys["FLASK_SECRET_KEY"],
            CLERK_PUBLISHABLE_KEY=keys["CLERK_PUBLISHABLE_KEY"],
            CLERK_SECRET_KEY=keys["CLERK_SECRET_KEY"],
            CLERK_DATABASE_URL=f"sqlite:///{tmp}/clerk.db",
            CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS=True,
            CLERK_WEBHOOKS_WORKER="off",  # the bench starts its own
            CLERK_RATELIMIT_ENABLED=False,
        )
        ClerkAuth(app)
        self.instance = app.extensions["clerk"].instance
        Base.metadata.create_all(self.instance.store.engine)
        with self.instance.store.session() as db:
            endpoint = outbox.add_endpoint(self.instance, db, "http://127.0.0.1:9/placeholder",
                                           event_types=[EVENT], description="bench")
            self.endpoint_id, self.secret = endpoint.id, endpoint.secret
            user = create_user(db, email_address="bench.user@example.com", password_digest=None,
                               first_name="Bench", last_name="User")
            db.commit()
            self.payload = user_json(user)

    def point_at(self, url: str) -> None:
        with self.instance.store.session() as db:
            outbox.update_endpoint(self.instance, db, self.endpoint_id, url=url)

    def top_up(self, events: int, per_transaction: int = 250) -> None:
        """Emit events until ``events`` deliveries are pending."""
        missing = events - self.count("pending")
        with self.instance.store.session() as db:
            for start in range(0, missing, per_transaction):
                for _ in range(min(per_transaction, missing - start)):
                    outbox.emit(self.instance, db, EVENT, self.payload)
                db.commit()

    def abandon_pending(self) -> None:
        """An empty outbox: what is still pending is marked failed."""
        with self.instance.store.session() as db:
            db.execute(update(WebhookDelivery).where(WebhookDelivery.status == "pending")
                       .values(status="failed"))
            db.commit()

    def count(self, status: str) -> int:
        with self.instance.store.session() as db:
            return int(db.scalar(select(func.count()).select_from(WebhookDelivery)
                                 .where(WebhookDelivery.status == status)) or 0)

    def drain(self, threads: int, send: outbox.Sender, limit: int, budget: float
              ) -> tuple[int, float]:
        """``deliver_due`` passes on ``threads`` threads until nothing is due or the
        budget is spent; (deliveries, wall-clock seconds)."""
        sent = [0] * threads
        errors: list[BaseException] = []
        started = time.perf_counter()
        stop_at = started + budget

        def work(i: int) -> None:
            try:
                while time.perf_counter() < stop_at:
                    n = outbox.deliver_due(self.instance, limit=limit, send=send)
                    if not n:
                        return
                    sent[i] += n
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        if threads == 1:
            work(0)
        else:
            pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise errors[0]
        return sum(sent), elapsed


def answer_at_once(url: str, body: bytes, headers: dict[str, str]) -> outbox.Response:
    """No network: the outbox's own cost per delivery (its ceiling)."""
    return outbox.Response(200, "ok")


def bare_http(url: str, body: bytes, headers: dict[str, str], seconds: float, *,
              shared: bool) -> float:
    """Requests/s of the bare POST, without the outbox."""
    client = httpx.Client(timeout=outbox.TIMEOUT) if shared else None
    done, started = 0, time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            if client is not None:
                client.post(url, content=body, headers=headers)
            else:
                httpx.post(url, content=body, headers=headers, timeout=outbox.TIMEOUT)
            done += 1
    finally:
        if client is not None:
            client.close()
    return done / (time.perf_counter() - started)


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


# --- the run ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=2000,
                        help="events in the outbox before each throughput configuration")
    parser.add_argument("--limit", type=int, default=50,
                        help="deliver_due(limit=...): deliveries leased per pass "
                             "(the worker's default)")
    parser.add_argument("--budget", type=float, default=5.0,
                        help="seconds after which a judged (real-sender) throughput "
                             "configuration stops starting passes, drained or not")
    parser.add_argument("--info-budget", type=float, default=3.0,
                        help="the same for the informational configurations")
    parser.add_argument("--samples", type=int, default=200, help="latency samples")
    parser.add_argument("--gap-ms", type=float, default=20.0,
                        help="pause between an event's arrival and the next commit")
    parser.add_argument("--no-verify", action="store_true",
                        help="the receiver skips the Svix signature check")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of one real-sender pass")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed")
    args = parser.parse_args()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    verify = not args.no_verify

    with tempfile.TemporaryDirectory(prefix="flask_clerk_bench_") as tmp:
        engine = Engine(tmp)
        receiver = Receiver(engine.secret, verify)
        try:
            engine.point_at(receiver.url)
            results, bare = run_throughput(engine, receiver, args)
            latency = run_latency(engine, receiver, args)
            profile_text = profile_pass(engine, receiver, args) if args.profile else ""
        finally:
            receiver.close()
            engine.instance.store.engine.dispose()

    real = {k: results[k] for k in ("one_worker", "two_workers")}
    best = max(real, key=lambda k: real[k]["per_s"])
    throughput = real[best]["per_s"]
    lat = latency["ms"]
    lat_median, lat_p99 = statistics.median(lat), percentile(lat, 99)
    ok_throughput, ok_latency = throughput >= THROUGHPUT_TARGET, lat_median <= LATENCY_TARGET
    elapsed = time.perf_counter() - started

    labels = {"one_worker": "http_sender, 1 worker thread",
              "two_workers": "http_sender, 2 worker threads",
              "pooled_one_worker": "shared httpx.Client, 1 worker (info)",
              "pooled_two_workers": "shared httpx.Client, 2 workers (info)",
              "no_network": "no network, sender answers 200 (info)"}
    print(f"Webhook outbox -> receiver over loopback HTTP (Python {platform.python_version()},"
          f" SQLite WAL, receiver in its own process, "
          f"{'verifying the svix signature' if verify else 'not verifying signatures'})")
    print(f"Throughput: the outbox topped up to {args.events} pending events before each "
          f"configuration; deliver_due(limit={args.limit}) passes until drained or "
          f"{args.budget:g} s ({args.info_budget:g} s for the informational ones)")
    print(f"  {'configuration':<40}{'sent':>6}{'s':>7}{'per s':>8}{'in HTTP':>9}{'ms/dlv':>8}")
    for name, r in results.items():
        print(f"  {labels[name]:<40}{r['delivered']:>6}{r['seconds']:>7.2f}{r['per_s']:>8.1f}"
              f"{100 * r['http_share']:>8.0f}%{1000 / r['per_s'] if r['per_s'] else 0:>8.2f}"
              f"{'' if r['drained'] else '  (budget spent, not drained)'}")
    print(f"  bare POSTs, no outbox: httpx.post per request {bare['httpx_post']:.0f}/s, "
          f"one shared httpx.Client {bare['shared_client']:.0f}/s")
    print(f"  throughput target >= {THROUGHPUT_TARGET:g}/s: "
          f"{'met' if ok_throughput else 'MISSED'} ({throughput:.1f}/s, {labels[best]})")
    print()
    print(f"Commit-to-delivery latency, idle WebhookWorker woken by after_commit "
          f"({len(lat)} events, {args.gap_ms:g} ms apart):")
    print(f"  median {lat_median:.1f} ms, p90 {percentile(lat, 90):.1f} ms, p99 {lat_p99:.1f} ms,"
          f" max {max(lat):.1f} ms")
    print(f"  split (medians): commit -> sender called {statistics.median(latency['to_send']):.1f}"
          f" ms (wake, lease, load, sign); sender called -> arrival "
          f"{statistics.median(latency['http']):.1f} ms (HTTP client and request)")
    print(f"  latency target median <= {LATENCY_TARGET:g} ms: "
          f"{'met' if ok_latency else 'MISSED'} ({lat_median:.1f} ms)")
    if profile_text:
        print()
        print(profile_text)
    print(f"\nRun took {elapsed:.1f} s; load average {load_before:.2f} before.")
    print(json.dumps({
        "bench": "webhooks",
        "python": platform.python_version(),
        "database": "sqlite",
        "receiver": {"process": "separate", "server": "werkzeug threaded",
                     "verifies_signature": verify},
        "events": args.events,
        "limit": args.limit,
        "throughput": {k: {"delivered": v["delivered"], "seconds": round(v["seconds"], 3),
                           "per_s": round(v["per_s"], 1), "drained": v["drained"],
                           "http_share": round(v["http_share"], 3)}
                       for k, v in results.items()},
        "bare_http_per_s": {k: round(v, 1) for k, v in bare.items()},
        "throughput_per_s": round(throughput, 1),
        "throughput_judged_on": best,
        "latency_ms": {"median": round(lat_median, 2), "p90": round(percentile(lat, 90), 2),
                       "p99": round(lat_p99, 2), "max": round(max(lat), 2),
                       "samples": len(lat),
                       "commit_to_send_median": round(statistics.median(latency["to_send"]), 2),
                       "send_to_arrival_median": round(statistics.median(latency["http"]), 2)},
        "targets": {"throughput_per_s": THROUGHPUT_TARGET, "latency_median_ms": LATENCY_TARGET},
        "ok": {"throughput": ok_throughput, "latency": ok_latency},
        "loadavg_before": round(load_before, 2),
        "seconds": round(elapsed, 1),
    }))
    return 1 if args.check and not (ok_throughput and ok_latency) else 0


def run_throughput(engine: Engine, receiver: Receiver, args: argparse.Namespace
                   ) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    # Warm-up: imports, SQLAlchemy's compiled statements, the receiver's first request.
    engine.top_up(20)
    engine.drain(1, outbox.http_sender, args.limit, 30)
    check_arrivals(receiver.collect(20), 20, "warm-up")

    results: dict[str, dict[str, Any]] = {}
    pooled, client = pooled_sender()
    configurations: list[tuple[str, int, outbox.Sender, float]] = [
        ("one_worker", 1, outbox.http_sender, args.budget),
        ("two_workers", 2, outbox.http_sender, args.budget),
        ("pooled_one_worker", 1, pooled, args.info_budget),
        ("pooled_two_workers", 2, pooled, args.info_budget),
        ("no_network", 1, answer_at_once, args.info_budget)]
    try:
        for name, threads, send, budget in configurations:
            engine.top_up(args.events)
            before = engine.count("succeeded")
            timed = TimedSender(send)
            delivered, seconds = engine.drain(threads, timed, args.limit, budget)
            succeeded = engine.count("succeeded") - before
            if succeeded != delivered:
                sys.exit(f"{name}: {delivered} deliveries sent, {succeeded} succeeded")
            arriving = 0 if send is answer_at_once else delivered
            check_arrivals(receiver.collect(arriving), arriving, name)
            results[name] = {"delivered": delivered, "seconds": seconds,
                             "per_s": delivered / seconds if seconds else 0.0,
                             "drained": engine.count("pending") == 0,
                             "http_share": timed.seconds / threads / seconds if seconds else 0}
        # The bare HTTP, without the outbox: what the sender's transport costs alone.
        body = json.dumps(engine.payload).encode()
        headers = {"svix-id": "msg_bare", "svix-timestamp": str(int(time.time())),
                   "svix-signature": "v1,bm90LWEtc2lnbmF0dXJl",
                   "content-type": "application/json"}
        bare = {"httpx_post": bare_http(receiver.url, body, headers, 1.0, shared=False),
                "shared_client": bare_http(receiver.url, body, headers, 1.0, shared=True)}
        receiver.collect(0, timeout=0.5)  # their (deliberately unsigned) arrivals
    finally:
        client.close()
    engine.abandon_pending()  # nothing left pending for the latency part
    return results, bare


def check_arrivals(arrivals: list[Arrival], expected: int, name: str) -> None:
    bad = [a for a in arrivals if not a[2]]
    if len(arrivals) != expected or bad:
        sys.exit(f"{name}: the receiver got {len(arrivals)} requests for {expected} deliveries,"
                 f" {len(bad)} with an invalid signature")


def run_latency(engine: Engine, receiver: Receiver, args: argparse.Namespace
                ) -> dict[str, list[float]]:
    timed = TimedSender(outbox.http_sender)
    worker = WebhookWorker(engine.instance, send=timed)
    worker.start()
    ms: list[float] = []
    to_send: list[float] = []
    http: list[float] = []
    try:
        time.sleep(0.3)  # its first pass finds nothing due; now it waits
        receiver.collect(0, timeout=0.1)
        for _ in range(args.samples + 3):
            with engine.instance.store.session() as db:
                message = outbox.emit(engine.instance, db, EVENT, engine.payload)
                db.commit()
                committed = time.time()
            assert message is not None
            arrived = receiver.wait_for(message.id)
            ms.append((arrived - committed) * 1000)
            called = timed.called_at.get(message.id, arrived)
            to_send.append((called - committed) * 1000)
            http.append((arrived - called) * 1000)
            time.sleep(args.gap_ms / 1000)
    finally:
        worker.stop()
    # The first three warm the path up (the worker's first wake-up).
    return {"ms": ms[3:], "to_send": to_send[3:], "http": http[3:]}


def profile_pass(engine: Engine, receiver: Receiver, args: argparse.Namespace) -> str:
    """cProfile of one deliver_due pass of ``--limit`` deliveries with the real sender."""
    engine.top_up(args.limit)
    profiler = cProfile.Profile()
    profiler.enable()
    sent = outbox.deliver_due(engine.instance, limit=args.limit)
    profiler.disable()
    receiver.collect(sent)
    out = [f"cProfile of one deliver_due pass ({sent} deliveries, real http_sender), "
           "top 25 by cumulative time:"]
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(25)
    out.append(stream.getvalue().strip("\n"))
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
