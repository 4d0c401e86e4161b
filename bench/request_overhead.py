"""Per-request overhead of flask_clerk, against a bare Flask route and Flask-Login.

Run with ``make bench`` (``.venv/bin/python bench/request_overhead.py``); about
20-30 s on 2 cores. ``--help`` lists the knobs.

What is measured, in one process and one run:

1. ``bare``        a Flask route with no authentication (the app has a SECRET_KEY,
   as every app using either extension must, and the request carries no cookie);
2. ``flask_clerk`` the same route behind ``ClerkAuth``: the browser sends a valid
   ``__session`` cookie and its ``__client`` cookie, the view calls ``auth()`` and
   returns the user id; this is the realistic signed-in request;
3. ``flask_login`` the same route behind Flask-Login, whose ``user_loader`` reads a
   real User row with Flask-SQLAlchemy from an SQLite file; the browser sends the
   Flask session cookie of a logged-in user; the view returns the user id;
4. ``login_required`` a second route of the flask_clerk app, behind
   ``@login_required`` (the plain flask_clerk-protected route: it also marks the
   response private), reached with variant 2's cookies;
5. ``permission`` a third route of the flask_clerk app (which has
   ``CLERK_ORGANIZATIONS`` on and gives ``org:admin`` the custom permission
   ``org:projects:delete``) behind ``@permission_required("org:projects:delete")``,
   returning ``auth().org_id``. The bench user created an organization (so is its
   admin) and the same session was switched to it with ``set_active_organization``:
   the browser sends that session's new ``__session`` token, which carries the
   organization, its role and permissions, with the same ``__client`` cookie. The
   permission is read from the token: no database query. Variant 2 keeps sending
   the personal-account token minted before the switch.

How: the five variants are driven by one harness, ``app.wsgi_app(environ,
start_response)`` with an environ prebuilt once per variant by
``werkzeug.test.EnvironBuilder`` (copied per call, the body iterated and closed as
a WSGI server would). There is no test client and no network: what is left is
Flask's request handling plus whatever the auth layer adds. Each round runs one
batch of requests per variant, round-robin, the order rotating each round, so
machine noise hits all variants alike. Batch sizes are calibrated so every batch
lasts about ``--batch-ms`` (a long batch is more often preempted by other
processes than a short one, which would bias the slower variant's median). A
variant's figure is the median over rounds of the mean time per request within a
batch, in wall-clock microseconds (what the targets are judged on) and in CPU
time of this process (steadier when the machine is busy).

Before and after the timing every route must answer 200 with the expected body
and set no cookie: the flask_clerk tokens were verified (not refreshed through
``__client``, not signed out), the permission was granted (the organization's id,
not a 403), the Flask-Login user was loaded.
``CLERK_SESSION_TOKEN_LIFETIME`` is raised to an hour so the token stays valid
for the whole run.

Sign-in cost: the flow function ``flask_clerk.core.sign_in.attempt_password`` for
a real user (not the HTTP POST: no form, CSRF or cookie handling in the way). A
fresh ``start_sign_in`` flow is prepared, untimed, before each attempt; the timed
call finds the flow, verifies the argon2id digest, creates the client and
session, mints the session token and commits. It is compared with a bare
argon2-cffi ``PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1,
hash_len=32, salt_len=16).verify`` with the same parameters, interleaved the same
way. Rate limiting is disabled for the run. The flow counts the attempt and builds
the session (rows and signed token) on a worker thread while the hash runs on the
calling one (``flask_clerk/core/overlap.py``): the wall-clock figure, which the
target judges, is what the user waits for; the CPU figure adds up both threads,
which is what the sign-in costs a machine with no idle core.

Also printed, for information (no target): the request that refreshes the
session token from the ``__client`` cookie, which each browser makes once per
token lifetime (60 s by default); the session has the organization active, so the
new token carries it.

Targets: flask_clerk <= 1.3x the bare route; the permission_required route <= 1.1x
the login_required route (permissions come from the token, no database query);
sign-in <= 1.15x bare argon2 verify.
The last line of output is one JSON object for machines. ``--check`` makes the
exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any

from argon2 import PasswordHasher as Argon2Hasher
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask_login import (  # type: ignore[import-untyped]
    LoginManager,
    UserMixin,
    current_user,
    login_user,
)
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.test import EnvironBuilder

from flask_clerk import ClerkAuth, auth, login_required, permission_required
from flask_clerk.cli import new_instance_keys
from flask_clerk.core.instance import RequestInfo
from flask_clerk.core.models import Base as ClerkBase
from flask_clerk.core.organizations import create_organization, set_active_organization
from flask_clerk.core.sessions import create_session
from flask_clerk.core.sign_in import attempt_password, start_sign_in
from flask_clerk.core.users import create_user

CLERK_TARGET = 1.3
PERMISSION_TARGET = 1.1  # permission_required in an organization, against login_required
# An app in remote mode (issue 10), against the bare route sent the same request: the
# same Cookie header, which Flask's own session parses in any app with a SECRET_KEY.
REMOTE_TARGET = 1.2
SIGN_IN_TARGET = 1.15
EMAIL = "bench.user@example.com"
PASSWORD = "correct horse battery staple 42"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) flask_clerk-bench/1.0"
ROUTE = "/me"
ORG_ROUTE = "/org"
PROTECTED_ROUTE = "/protected"
PERMISSION = "org:projects:delete"


def bare_argon2() -> Argon2Hasher:
    """argon2-cffi with flask_clerk's default parameters (argon2id)."""
    return Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32,
                        salt_len=16)


# --- the WSGI harness, identical for every variant --------------------------------

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    pass


def make_environ(cookies: dict[str, str] | None = None, path: str = ROUTE) -> dict[str, Any]:
    headers = [("User-Agent", USER_AGENT), ("Accept", "*/*")]
    if cookies:
        headers.append(("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items())))
    builder = EnvironBuilder(path=path, base_url="http://localhost/", headers=headers,
                             environ_base={"REMOTE_ADDR": "127.0.0.1"})
    try:
        return builder.get_environ()
    finally:
        builder.close()


def call(app: WsgiApp, environ: dict[str, Any]) -> None:
    """One request, as a WSGI server would make it (minus the socket)."""
    body = app(environ.copy(), _start_response)
    try:
        for _chunk in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def call_full(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """One request, keeping status, headers and body (for the checks)."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    body = app(environ.copy(), start_response)
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return seen["status"], seen["headers"], data


def expect(name: str, app: WsgiApp, environ: dict[str, Any], body: str) -> None:
    status, headers, data = call_full(app, environ)
    cookies = [v for k, v in headers if k.lower() == "set-cookie"]
    if not status.startswith("200") or data.decode() != body or cookies:
        sys.exit(f"{name}: expected 200 {body!r} and no Set-Cookie, "
                 f"got {status} {data[:200]!r} set-cookie={cookies}")


# --- the apps ------------------------------------------------------------------


def bare_app(tmp: str) -> tuple[Flask, str]:
    app = Flask("bench_bare", instance_path=tmp)
    app.config["SECRET_KEY"] = os.urandom(32).hex()

    @app.get(ROUTE)
    def me() -> str:
        return "user_bench"

    return app, "user_bench"


class ClerkBench:
    def __init__(self, tmp: str) -> None:
        keys = new_instance_keys("localhost/__clerk")
        app = Flask("bench_clerk", instance_path=tmp)
        app.config.update(
            SECRET_KEY=keys["FLASK_SECRET_KEY"],
            CLERK_PUBLISHABLE_KEY=keys["CLERK_PUBLISHABLE_KEY"],
            CLERK_SECRET_KEY=keys["CLERK_SECRET_KEY"],
            CLERK_DATABASE_URL=f"sqlite:///{tmp}/clerk.db",
            CLERK_COOKIE_SECURE=False,
            CLERK_SESSION_TOKEN_LIFETIME=3600,  # valid for the whole run
            CLERK_RATELIMIT_ENABLED=False,
            CLERK_PROTECTED_ROUTES=(),
            CLERK_AUTHORIZED_PARTIES=(),
            CLERK_ORGANIZATIONS=True,
            CLERK_ORGANIZATION_ROLES={"org:admin": {"permissions": [PERMISSION]}},
        )
        ClerkAuth(app)

        @app.get(ROUTE)
        def me() -> str:
            return auth().user_id or "signed out"

        @app.get(PROTECTED_ROUTE)
        @login_required
        def protected() -> str:
            return auth().user_id or "signed out"

        @app.get(ORG_ROUTE)
        @permission_required(PERMISSION)
        def org() -> str:
            return auth().org_id or "no organization"

        self.app = app
        self.instance = app.extensions["clerk"].instance
        ClerkBase.metadata.create_all(self.instance.store.engine)
        # The signing key, as `flask clerk init` creates it. (Created lazily inside
        # create_session instead, its own session would wait on the write lock that
        # the session creating the user holds: SQLite "database is locked".)
        self.instance.signing_key()
        with self.instance.store.session() as db:
            user = create_user(db, email_address=EMAIL,
                               password_digest=self.instance.hasher.hash(PASSWORD),
                               first_name="Bench", last_name="User")
            signed_in = create_session(self.instance, db, user, RequestInfo())
            session_id = signed_in.session.id
            db.commit()
            self.user_id = user.id
            # The user's organization (its creator is its admin), made the session's
            # active one: the new token carries it, with the admin's permissions.
            organization = create_organization(self.instance, db, user, name="Bench Org",
                                               slug="bench")
            self.org_id = organization.id
            org_token = set_active_organization(self.instance, db, session_id, self.user_id,
                                                self.org_id, RequestInfo())
        # The personal-account token, minted before the switch, for the plain variant.
        self.cookies = {"__session": signed_in.session_token,
                        "__client": signed_in.client_token}
        self.org_cookies = {"__session": org_token, "__client": signed_in.client_token}

    def sign_in_once(self) -> tuple[float, float]:
        """(wall, CPU) ms of ``attempt_password``; the flow is prepared untimed."""
        info = RequestInfo(ip_address="127.0.0.1", user_agent=USER_AGENT)
        with self.instance.store.session() as db:
            _sign_in, flow_token = start_sign_in(self.instance, db, info, identifier=EMAIL)
            w0, c0 = time.perf_counter_ns(), time.process_time_ns()
            signed_in = attempt_password(self.instance, db, info, flow_token, PASSWORD)
            c1, w1 = time.process_time_ns(), time.perf_counter_ns()
            if signed_in.session.user_id != self.user_id:
                sys.exit("sign-in: attempt_password signed in the wrong user")
        return (w1 - w0) / 1e6, (c1 - c0) / 1e6


class LoginDb(DeclarativeBase):
    pass


login_db = SQLAlchemy(model_class=LoginDb)


class LoginUser(UserMixin, login_db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_digest: Mapped[str] = mapped_column(String(200))


def remote_app(clerk: ClerkBench) -> Flask:
    """An app in remote mode (issue 10) trusting the bench instance: the same route,
    its tokens verified with the instance's public key (CLERK_JWT_KEY, networkless)."""
    public = clerk.instance.signing_key().private_key.public_key()
    app = Flask("bench_remote")
    app.config.update(
        SECRET_KEY=os.urandom(32).hex(), CLERK_MODE="remote",
        CLERK_PUBLISHABLE_KEY=clerk.app.config["CLERK_PUBLISHABLE_KEY"],
        CLERK_JWT_KEY=public.public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        CLERK_COOKIE_SECURE=False, CLERK_PROTECTED_ROUTES=(), CLERK_AUTHORIZED_PARTIES=())
    ClerkAuth(app)

    @app.get(ROUTE)
    def me() -> str:
        return auth().user_id or "signed out"

    return app


def flask_login_app(tmp: str) -> tuple[Flask, dict[str, str], str]:
    app = Flask("bench_flask_login", instance_path=tmp)
    app.config.update(SECRET_KEY=os.urandom(32).hex(),
                      SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/login.db")
    login_db.init_app(app)
    manager = LoginManager(app)

    @manager.user_loader  # type: ignore[untyped-decorator]
    def load_user(user_id: str) -> LoginUser | None:
        return login_db.session.get(LoginUser, int(user_id))

    @app.get(ROUTE)
    def me() -> str:
        return current_user.get_id() if current_user.is_authenticated else "signed out"

    @app.get("/login")
    def login() -> str:
        login_user(login_db.session.scalars(
            login_db.select(LoginUser).filter_by(email=EMAIL)).one())
        return "ok"

    with app.app_context():
        login_db.create_all()
        user = LoginUser(email=EMAIL, name="Bench User",
                         password_digest=bare_argon2().hash(PASSWORD))
        login_db.session.add(user)
        login_db.session.commit()
        user_id = str(user.id)

    # Log in through the app itself, from the same "browser" the benchmark sends.
    status, headers, _ = call_full(app.wsgi_app, make_environ(path="/login"))
    cookie = next((v for k, v in headers if k.lower() == "set-cookie"
                   and v.startswith("session=")), None)
    if not status.startswith("200") or cookie is None:
        sys.exit(f"flask_login: logging in failed: {status} {headers}")
    return app, {"session": cookie.split(";", 1)[0].split("=", 1)[1]}, user_id


# --- timing --------------------------------------------------------------------------

Sample = tuple[float, float]  # (wall, CPU) for one variant in one round


def interleaved(variants: dict[str, Callable[[], Sample]], rounds: int, *, min_rounds: int,
                deadline: float) -> dict[str, list[Sample]]:
    """Run each variant once per round, round-robin, rotating the order each round.

    Stops early (but not before ``min_rounds``) once ``time.perf_counter()`` passes
    ``deadline``, so a slow or busy machine still finishes in bounded time.
    """
    names = list(variants)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for r in range(rounds):
        if r >= min_rounds and time.perf_counter() > deadline:
            break
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(variants[name]())
    return samples


def batch(app: WsgiApp, environ: dict[str, Any], size: int) -> Callable[[], Sample]:
    """(wall, CPU) microseconds per request, averaged over ``size`` back-to-back requests."""
    wall, cpu = time.perf_counter_ns, time.process_time_ns

    def run() -> Sample:
        w0, c0 = wall(), cpu()
        for _ in range(size):
            call(app, environ)
        c1, w1 = cpu(), wall()
        return (w1 - w0) / size / 1000, (c1 - c0) / size / 1000

    return run


def timed(fn: Callable[[], Any]) -> Sample:
    """(wall, CPU) milliseconds of one call."""
    w0, c0 = time.perf_counter_ns(), time.process_time_ns()
    fn()
    c1, w1 = time.process_time_ns(), time.perf_counter_ns()
    return (w1 - w0) / 1e6, (c1 - c0) / 1e6


def median(samples: list[Sample], which: int) -> float:
    return statistics.median(s[which] for s in samples)


def spread(samples: list[Sample]) -> float:
    """Interquartile range of the wall-clock samples relative to their median, in %."""
    values = [s[0] for s in samples]
    q = statistics.quantiles(values, n=4)
    return 100 * (q[2] - q[0]) / statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=201,
                        help="request rounds (each runs a batch per variant)")
    parser.add_argument("--batch-ms", type=float, default=5.0,
                        help="target duration of one batch; each variant's batch size is "
                             "calibrated to it, so every batch is equally exposed to "
                             "preemption by other processes")
    parser.add_argument("--sign-in-rounds", type=int, default=81)
    parser.add_argument("--budget", type=float, default=40.0,
                        help="seconds after which rounds stop early (at least a quarter "
                             "of them run)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed")
    args = parser.parse_args()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="flask_clerk_bench_") as tmp:
        bare, bare_body = bare_app(tmp)
        clerk = ClerkBench(tmp)
        login, login_cookies, login_user_id = flask_login_app(tmp)

        apps: dict[str, tuple[WsgiApp, dict[str, Any], str]] = {
            "bare": (bare.wsgi_app, make_environ(), bare_body),
            "flask_clerk": (clerk.app.wsgi_app, make_environ(clerk.cookies), clerk.user_id),
            "flask_login": (login.wsgi_app, make_environ(login_cookies), login_user_id),
            "login_required": (clerk.app.wsgi_app, make_environ(clerk.cookies, PROTECTED_ROUTE),
                               clerk.user_id),
            "permission": (clerk.app.wsgi_app, make_environ(clerk.org_cookies, ORG_ROUTE),
                           clerk.org_id),
            "remote": (remote_app(clerk).wsgi_app,
                       make_environ({"__session": clerk.cookies["__session"]}), clerk.user_id),
            "bare_cookies": (bare.wsgi_app, make_environ({"__session": clerk.cookies[
                "__session"]}), bare_body),
        }

        def check_all() -> None:
            for name, (app, environ, body) in apps.items():
                expect(name, app, environ, body)

        check_all()
        # Warm up: caches (token verifier, SQLAlchemy compiled statements, pools).
        for app, environ, _ in apps.values():
            for _ in range(200):
                call(app, environ)
        check_all()

        # Batch sizes: about --batch-ms of requests each (CPU time, so a busy moment
        # during calibration does not shrink them).
        sizes = {}
        for name, (app, environ, _) in apps.items():
            cpu_us = min(batch(app, environ, 20)()[1] for _ in range(5))
            sizes[name] = max(3, round(args.batch_ms * 1000 / cpu_us))

        gc.collect()
        gc.freeze()  # the setup's objects need not be traversed during the timing
        # Requests get two thirds of the budget, sign-in most of the rest.
        requests = interleaved(
            {name: batch(app, environ, sizes[name]) for name, (app, environ, _) in apps.items()},
            args.rounds, min_rounds=max(1, args.rounds // 4),
            deadline=started + 0.65 * args.budget,
        )
        check_all()  # still signed in at the end: nothing timed a signed-out path

        argon2 = bare_argon2()
        digest = argon2.hash(PASSWORD)
        for _ in range(2):  # warm up
            clerk.sign_in_once()
            argon2.verify(digest, PASSWORD)
        sign_in = interleaved(
            {"argon2_verify": lambda: timed(lambda: argon2.verify(digest, PASSWORD)),
             "attempt_password": clerk.sign_in_once},
            args.sign_in_rounds, min_rounds=max(3, args.sign_in_rounds // 4),
            deadline=started + 0.9 * args.budget,
        )
        rounds, sign_in_rounds = len(requests["bare"]), len(sign_in["argon2_verify"])
        check_all()

        # Informational: the request that refreshes an expired or missing __session
        # from __client (one query, a commit, a new token), as each browser makes it
        # once per CLERK_SESSION_TOKEN_LIFETIME (60 s by default).
        refresh_environ = make_environ({"__client": clerk.cookies["__client"]})

        def refresh_once() -> Sample:
            sample = timed(lambda: call(clerk.app.wsgi_app, refresh_environ))
            status, headers, data = call_full(clerk.app.wsgi_app, refresh_environ)
            if not (status.startswith("200") and data.decode() == clerk.user_id and any(
                    k.lower() == "set-cookie" and v.startswith("__session=")
                    for k, v in headers)):
                sys.exit(f"refresh: expected 200, the user id and a new __session, got "
                         f"{status} {data[:200]!r} {headers}")
            return sample

        refresh = [refresh_once() for _ in range(max(3, sign_in_rounds))]
        gc.unfreeze()
        clerk.instance.store.engine.dispose()
        with login.app_context():
            login_db.engine.dispose()

    wall = {name: median(v, 0) for name, v in requests.items()}
    cpu = {name: median(v, 1) for name, v in requests.items()}
    si_wall = {name: median(v, 0) for name, v in sign_in.items()}
    si_cpu = {name: median(v, 1) for name, v in sign_in.items()}
    clerk_ratio = wall["flask_clerk"] / wall["bare"]
    remote_ratio = wall["remote"] / wall["bare_cookies"]
    ok_remote = remote_ratio <= REMOTE_TARGET
    permission_ratio = wall["permission"] / wall["login_required"]
    sign_in_ratio = si_wall["attempt_password"] / si_wall["argon2_verify"]
    ok_clerk, ok_sign_in = clerk_ratio <= CLERK_TARGET, sign_in_ratio <= SIGN_IN_TARGET
    ok_permission = permission_ratio <= PERMISSION_TARGET
    # Share of the wall-clock time this process was on a CPU while timing requests.
    busy = sum(c for v in requests.values() for _, c in v) / sum(
        w for v in requests.values() for w, _ in v)
    elapsed = time.perf_counter() - started

    print(f"Request overhead: median of {rounds} interleaved rounds, a batch of ~"
          f"{args.batch_ms:g} ms per variant each ({', '.join(map(str, sizes.values()))} "
          f"requests); app.wsgi_app + prebuilt environ (Python {platform.python_version()})")
    print(f"  {'variant':<40}{'us/req':>9}{'x bare':>8}{'IQR':>7}{'CPU us':>9}{'x bare':>8}")
    labels = {"bare": "bare Flask route",
              "flask_clerk": "flask_clerk, valid __session",
              "flask_login": "Flask-Login + Flask-SQLAlchemy",
              "login_required": "flask_clerk, @login_required",
              "permission": "flask_clerk, @permission_required (org)",
              "remote": "remote mode (CLERK_JWT_KEY), valid __session",
              "bare_cookies": "bare Flask route, remote's Cookie header"}
    for name, label in labels.items():
        print(f"  {label:<40}{wall[name]:>9.1f}{wall[name] / wall['bare']:>7.2f}x"
              f"{spread(requests[name]):>6.0f}%{cpu[name]:>9.1f}"
              f"{cpu[name] / cpu['bare']:>7.2f}x")
    print(f"  flask_clerk target <= {CLERK_TARGET}x: {'met' if ok_clerk else 'MISSED'} "
          f"({clerk_ratio:.2f}x wall, {cpu['flask_clerk'] / cpu['bare']:.2f}x CPU; "
          f"+{wall['flask_clerk'] - wall['bare']:.1f} us/request)")
    print(f"  remote mode target <= {REMOTE_TARGET}x the bare route sent the same cookies: "
          f"{'met' if ok_remote else 'MISSED'} ({remote_ratio:.2f}x wall, "
          f"{cpu['remote'] / cpu['bare_cookies']:.2f}x CPU; "
          f"+{wall['remote'] - wall['bare_cookies']:.1f} us/request; "
          f"{wall['remote'] / wall['bare']:.2f}x the cookie-less bare route)")
    print(f"  permission_required target <= {PERMISSION_TARGET}x login_required: "
          f"{'met' if ok_permission else 'MISSED'} ({permission_ratio:.2f}x wall, "
          f"{cpu['permission'] / cpu['login_required']:.2f}x CPU; "
          f"{wall['permission'] - wall['login_required']:+.1f} us/request)")
    print()
    print(f"Sign-in: median of {sign_in_rounds} interleaved rounds; flask_clerk = "
          "core.sign_in.attempt_password (flow function, no HTTP)")
    print(f"  {'variant':<34}{'ms':>9}{'x bare':>8}{'IQR':>7}{'CPU ms':>9}{'x bare':>8}")
    for name, label in (("argon2_verify", "argon2-cffi PasswordHasher.verify"),
                        ("attempt_password", "flask_clerk attempt_password")):
        print(f"  {label:<34}{si_wall[name]:>9.2f}"
              f"{si_wall[name] / si_wall['argon2_verify']:>7.2f}x{spread(sign_in[name]):>6.0f}%"
              f"{si_cpu[name]:>9.2f}{si_cpu[name] / si_cpu['argon2_verify']:>7.2f}x")
    print(f"  sign-in target <= {SIGN_IN_TARGET}x: {'met' if ok_sign_in else 'MISSED'} "
          f"({sign_in_ratio:.2f}x wall)")
    print(f"\nToken refresh (only __client sent: one query, a commit, a new token; each "
          f"browser once per token lifetime):\n  {median(refresh, 0):.2f} ms "
          f"(CPU {median(refresh, 1):.2f} ms), median of {len(refresh)} requests")
    print(f"\nTargets are judged on wall-clock medians. IQR: interquartile range of the "
          f"rounds / median.\nRun took {elapsed:.1f} s; load average {load_before:.2f} before; "
          f"on CPU {100 * busy:.0f}% of the timed wall-clock time.")
    if busy < 0.9:
        print("  The machine was busy: wall-clock figures include time other processes took;"
              " the CPU-time columns are the steadier comparison.")
    print(json.dumps({
        "bench": "request_overhead",
        "harness": "app.wsgi_app",
        "python": platform.python_version(),
        "rounds": rounds,
        "batch_sizes": sizes,
        "us_per_request": {k: round(v, 2) for k, v in wall.items()},
        "cpu_us_per_request": {k: round(v, 2) for k, v in cpu.items()},
        "ratio_to_bare": {k: round(wall[k] / wall["bare"], 3)
                          for k in ("flask_clerk", "flask_login", "login_required",
                                    "permission", "remote")},
        "cpu_ratio_to_bare": {k: round(cpu[k] / cpu["bare"], 3)
                              for k in ("flask_clerk", "flask_login", "login_required",
                                        "permission", "remote")},
        "remote_ratio_to_bare_same_cookies": round(remote_ratio, 3),
        "permission_ratio_to_login_required": round(permission_ratio, 3),
        "permission_cpu_ratio_to_login_required": round(
            cpu["permission"] / cpu["login_required"], 3),
        "sign_in": {"measured": "flask_clerk.core.sign_in.attempt_password",
                    "rounds": sign_in_rounds,
                    "ms": {k: round(v, 3) for k, v in si_wall.items()},
                    "cpu_ms": {k: round(v, 3) for k, v in si_cpu.items()},
                    "ratio": round(sign_in_ratio, 3),
                    "cpu_ratio": round(si_cpu["attempt_password"] / si_cpu["argon2_verify"], 3)},
        "refresh_ms": round(median(refresh, 0), 3),
        "refresh_cpu_ms": round(median(refresh, 1), 3),
        "targets": {"flask_clerk_ratio": CLERK_TARGET, "remote_ratio": REMOTE_TARGET,
                    "permission_ratio_to_login_required": PERMISSION_TARGET,
                    "sign_in_ratio": SIGN_IN_TARGET},
        "ok": {"flask_clerk": ok_clerk, "permission": ok_permission, "sign_in": ok_sign_in,
               "remote": ok_remote},
        "on_cpu_share": round(busy, 3),
        "loadavg_before": round(load_before, 2),
        "seconds": round(elapsed, 1),
    }))
    return 1 if args.check and not (ok_clerk and ok_permission and ok_sign_in and ok_remote) else 0


if __name__ == "__main__":
    sys.exit(main())
