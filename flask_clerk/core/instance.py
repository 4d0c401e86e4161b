"""An instance of the engine: its settings and the services the flows use.

Built once by ``ClerkAuth.init_app``; flows take it as their first argument,
together with a database session, and never touch Flask's request globals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..settings import Settings
from ..tokens import (
    KEY_RELOAD_INTERVAL,
    KeyPair,
    OrganizationClaims,
    RevocationList,
    TokenVerifier,
    mint_session_token,
)
from . import clock
from .keys import ensure_signing_key, public_jwks
from .mail import DevMailbox, Mailer
from .models import ApiKey, OrganizationRole, WebhookEndpoint
from .overlap import Overlap
from .password_timing import FailureFloor
from .passwords import PasswordHasher
from .ratelimit import RateLimiter
from .roles import Role
from .store import Store

ENDPOINTS_RELOAD = 1.0  # seconds between two reads of the webhook endpoints
API_KEYS_RELOAD = 5.0  # seconds between two reads of the rolled Backend API keys
SETTINGS_RELOAD = 1.0  # seconds between two reads of the settings changed from the dashboard
# Sign-ins whose SQL may run beside their hash at the same moment; more run it in turn.
OVERLAP_WORKERS = 8


@dataclass(frozen=True)
class RequestInfo:
    """What the flows may know about the HTTP request that started them."""

    ip_address: str | None = None
    user_agent: str | None = None
    origin: str | None = None


@dataclass
class Instance:
    config_settings: Settings  # as configured; ``settings`` adds the dashboard's changes
    store: Store
    hasher: PasswordHasher
    mailer: Mailer
    dev_mailbox: DevMailbox | None
    rate_limiter: RateLimiter
    verifier: TokenVerifier
    revoked: RevocationList
    overlap: Overlap
    # Pads failed password checks while imported digests, timed unlike ours, remain.
    failure_floor: FailureFloor
    _signing_key: KeyPair | None = None
    _signing_key_loaded_at: float = 0.0
    _roles: Mapping[str, Role] | None = None
    _roles_loaded_at: float = 0.0
    _endpoints: list[tuple[str, frozenset[str]]] | None = None
    _endpoints_loaded_at: float = 0.0
    _settings: Settings | None = None
    _settings_loaded_at: float = 0.0
    _api_keys: list[tuple[str, datetime | None]] | None = None
    _api_keys_loaded_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, settings: Settings, **engine_options: Any) -> Instance:
        store = Store(settings.database_url, **engine_options)
        dev_mailbox = DevMailbox() if settings.dev_mailbox else None
        revoked = RevocationList()
        hasher = PasswordHasher(**settings.password_hash)

        def load_keys() -> list[dict[str, Any]]:
            with store.session() as db:
                return public_jwks(
                    db, token_lifetime=settings.session_token_lifetime, skew=settings.clock_skew
                )

        return cls(
            config_settings=settings,
            store=store,
            hasher=hasher,
            mailer=Mailer(sender=settings.mail_sender, smtp_url=settings.smtp_url,
                          dev_mailbox=dev_mailbox),
            dev_mailbox=dev_mailbox,
            rate_limiter=RateLimiter(
                settings.rate_limits,
                storage_uri=settings.redis_url or "memory://",
                enabled=settings.ratelimit_enabled,
                lockout=(settings.lockout_attempts, settings.lockout_duration),
            ),
            verifier=TokenVerifier(
                load_keys,
                skew=settings.clock_skew,
                issuer=settings.issuer,
                authorized_parties=settings.authorized_parties,
                cache_size=settings.token_cache_size,
                revoked=revoked,
                clock=lambda: clock.timestamp(),
            ),
            revoked=revoked,
            # A database that lives in one connection cannot be used from a worker.
            overlap=Overlap(workers=0 if store.in_memory else OVERLAP_WORKERS),
            failure_floor=FailureFloor(store, hasher),
        )

    def signing_key(self) -> KeyPair:
        """The active key, re-read once a minute so a rotation made by another
        process (``flask clerk keys rotate``) reaches this one."""
        now = time.monotonic()
        if self._signing_key is None or now - self._signing_key_loaded_at > KEY_RELOAD_INTERVAL:
            with self._lock, self.store.session() as db:
                pair = ensure_signing_key(db)
            if self._signing_key is None or pair.kid != self._signing_key.kid:
                self._signing_key = pair  # keep the parsed key of an unchanged pair
            self._signing_key_loaded_at = now
        return self._signing_key

    def forget_signing_key(self) -> None:
        """After a rotation: the next token is signed with the new key."""
        self._signing_key = None
        self.verifier.reload_keys()

    @property
    def settings(self) -> Settings:
        """The settings in force: the configuration, with what the dashboard changed
        over it (re-read at most once a second, so another process's change gets
        here; this process's at once, see :meth:`forget_settings`)."""
        now = time.monotonic()
        current = self._settings
        if current is None or now - self._settings_loaded_at > SETTINGS_RELOAD:
            from .instance_settings import layered, overrides

            try:
                with self.store.session() as db:
                    current = layered(self.config_settings, overrides(db))
            except SQLAlchemyError:
                # Not migrated yet (or unreachable): the configuration alone.
                current = self.config_settings
            if (self._settings is None or (current.lockout_attempts, current.lockout_duration)
                    != (self._settings.lockout_attempts, self._settings.lockout_duration)):
                self.rate_limiter.set_lockout(current.lockout_attempts, current.lockout_duration)
            self._settings, self._settings_loaded_at = current, now
        return current

    def forget_settings(self) -> None:
        self._settings = None

    def api_keys(self) -> list[tuple[str, datetime | None]]:
        """(hash, expiry) of the rolled Backend API secret keys (``core.api_keys``),
        re-read at most every few seconds: another process's roll gets here soon."""
        now = time.monotonic()
        if self._api_keys is None or now - self._api_keys_loaded_at > API_KEYS_RELOAD:
            with self.store.session() as db:
                self._api_keys = [(r.key_hash, r.expires_at)
                                  for r in db.scalars(select(ApiKey))]
            self._api_keys_loaded_at = now
        return self._api_keys

    def forget_api_keys(self) -> None:
        self._api_keys = None

    def roles(self) -> Mapping[str, Role]:
        """Organization roles by key: built in, from settings and from ``flask clerk
        roles`` (re-read once a minute, so another process's change gets here)."""
        now = time.monotonic()
        if self._roles is None or now - self._roles_loaded_at > KEY_RELOAD_INTERVAL:
            with self.store.session() as db:
                rows = db.scalars(select(OrganizationRole)).all()
            roles = dict(self.settings.organization_roles)
            for row in rows:
                roles.setdefault(row.key, Role(row.key, row.name, tuple(row.permissions),
                                               row.description))
            self._roles, self._roles_loaded_at = roles, now
        return self._roles

    def forget_roles(self) -> None:
        self._roles = None

    def webhook_endpoints(self) -> list[tuple[str, frozenset[str]]]:
        """(id, event types; empty: all) of the enabled endpoints, re-read at most once a
        second: a flow with nothing to send pays no query. An endpoint added by another
        process gets events from a second later; this process's changes at once."""
        now = time.monotonic()
        if self._endpoints is None or now - self._endpoints_loaded_at > ENDPOINTS_RELOAD:
            with self.store.session() as db:
                rows = db.execute(select(WebhookEndpoint.id, WebhookEndpoint.event_types)
                                  .where(WebhookEndpoint.enabled.is_(True))).all()
            self._endpoints = [(row[0], frozenset(row[1] or ())) for row in rows]
            self._endpoints_loaded_at = now
        return self._endpoints

    def forget_webhook_endpoints(self) -> None:
        self._endpoints = None

    def mint_token(self, *, user_id: str, session_id: str, factor_ages: tuple[int, int],
                   azp: str | None, organization: OrganizationClaims | None = None,
                   status: str | None = None, actor: dict[str, Any] | None = None,
                   not_after: float | None = None) -> str:
        """A session token; ``not_after`` (unix seconds) caps its expiry."""
        now = clock.now().timestamp()
        lifetime = self.settings.session_token_lifetime
        if not_after is not None:
            lifetime = max(1, min(lifetime, int(not_after - now)))
        return mint_session_token(
            key=self.signing_key(),
            issuer=self.settings.issuer,
            user_id=user_id,
            session_id=session_id,
            lifetime=lifetime,
            azp=azp,
            factor_ages=factor_ages,
            organization=organization,
            status=status,
            actor=actor,
            now=now,
        )

    def revoke_token_of(self, session_id: str) -> None:
        """Tokens of an ended session stop verifying in this process at once."""
        self.revoked.revoke(
            session_id, self.settings.session_token_lifetime + self.settings.clock_skew + 1
        )


