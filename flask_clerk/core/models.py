"""The identity store: SQLAlchemy 2.0 typed models.

It lives in its own database (``CLERK_DATABASE_URL``) with its own metadata and
migrations, apart from the application's tables.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..ids import new_id
from . import clock


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the identity store")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class CodeVerification:
    """Columns of a pending one-time code (see :mod:`flask_clerk.core.codes`)."""

    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None]
    code_sent_at: Mapped[datetime | None]
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)


class User(Timestamps, Base):
    __tablename__ = "clerk_users"
    __table_args__ = (Index("ix_clerk_users_created_at", "created_at"),)  # sign-ups a day

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("user"))
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    image_url: Mapped[str | None] = mapped_column(String(2048))
    password_digest: Mapped[str | None] = mapped_column(String(512))
    # None: our own argon2id. Otherwise the Clerk hasher name of an imported digest,
    # verified as such until the first successful sign-in re-hashes it.
    password_hasher: Mapped[str | None] = mapped_column(String(40))
    password_last_updated_at: Mapped[datetime | None]
    primary_email_address_id: Mapped[str | None] = mapped_column(String(40))
    public_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    private_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    unsafe_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    banned: Mapped[bool] = mapped_column(default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    mfa_enabled_at: Mapped[datetime | None]  # set while the user has a second factor
    mfa_disabled_at: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]
    last_active_at: Mapped[datetime | None]

    email_addresses: Mapped[list[EmailAddress]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        order_by="EmailAddress.created_at",
    )
    sessions: Mapped[list[Session]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    passkeys: Mapped[list[Passkey]] = relationship(
        order_by="Passkey.created_at", viewonly=True
    )
    external_accounts: Mapped[list[ExternalAccount]] = relationship(
        order_by="ExternalAccount.created_at", viewonly=True
    )

    @property
    def primary_email(self) -> EmailAddress | None:
        for email in self.email_addresses:
            if email.id == self.primary_email_address_id:
                return email
        return None

    @property
    def primary_address(self) -> str | None:
        primary = self.primary_email
        return primary.email_address if primary is not None else None

    def is_locked(self, at: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > at


class EmailAddress(Timestamps, CodeVerification, Base):
    __tablename__ = "clerk_email_addresses"
    __table_args__ = (
        Index(
            "uq_clerk_email_addresses_verified",
            "email_address",
            unique=True,
            sqlite_where=text("verification_status = 'verified'"),
            postgresql_where=text("verification_status = 'verified'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("idn"))
    user_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_users.id", ondelete="CASCADE"), index=True
    )
    # Stored lower-cased. Only a *verified* address is unique (one account per
    # mailbox); a pending one may name a taken address without revealing that.
    email_address: Mapped[str] = mapped_column(String(320), index=True)
    verification_status: Mapped[str] = mapped_column(String(20), default="unverified")
    verification_strategy: Mapped[str | None] = mapped_column(String(40))

    user: Mapped[User] = relationship(back_populates="email_addresses")

    @property
    def verified(self) -> bool:
        return self.verification_status == "verified"


class Client(Timestamps, Base):
    """A browser: holds the sessions signed in on it (Clerk's Client)."""

    __tablename__ = "clerk_clients"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("client"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_active_session_id: Mapped[str | None] = mapped_column(String(40))


class Session(Timestamps, CodeVerification, Base):
    __tablename__ = "clerk_sessions"
    __table_args__ = (Index("ix_clerk_sessions_user_status", "user_id", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sess"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clerk_clients.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("clerk_users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="active")
    last_active_at: Mapped[datetime] = mapped_column(default=clock.now)
    expire_at: Mapped[datetime]
    abandon_at: Mapped[datetime | None]
    first_factor_verified_at: Mapped[datetime] = mapped_column(default=clock.now)
    second_factor_verified_at: Mapped[datetime | None]
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    # The organization the session works in (None: the personal account).
    last_active_organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("clerk_organizations.id", ondelete="SET NULL")
    )
    # An impersonation: who is acting as the user (Clerk's ``act`` claim:
    # ``{"sub": <administrator's user id>, "sid": <their session>, "iss": …}``).
    actor: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    user: Mapped[User] = relationship(back_populates="sessions")
    client: Mapped[Client] = relationship()


class SignUp(Timestamps, CodeVerification, Base):
    """A sign-up in progress; the user exists only once its email is verified."""

    __tablename__ = "clerk_sign_ups"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sua"))
    flow_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email_address: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    password_digest: Mapped[str | None] = mapped_column(String(512))
    # True when the address already had an account: the flow looks the same, but
    # no code exists that could complete it (the owner got a notice instead).
    email_taken: Mapped[bool] = mapped_column(default=False)
    # A sign-up through a provider that did not vouch for the email: the account
    # to connect once the mailed code proves the address (see core/oauth.py).
    external_account: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    status: Mapped[str] = mapped_column(String(30), default="missing_requirements")
    expire_at: Mapped[datetime] = mapped_column(index=True)


class SignIn(Timestamps, CodeVerification, Base):
    """A sign-in in progress (identifier known, factor pending, or password reset)."""

    __tablename__ = "clerk_sign_ins"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sia"))
    flow_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    identifier: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("clerk_users.id", ondelete="CASCADE"))
    # needs_first_factor -> (MFA users: needs_second_factor) -> complete; a reset:
    # needs_reset_code -> (MFA users: needs_second_factor) -> needs_new_password
    status: Mapped[str] = mapped_column(String(30), default="needs_first_factor")
    # The first factor in use (password, email_code, email_link, passkey) and when
    # it passed: a session started after the second factor keeps that time.
    strategy: Mapped[str | None] = mapped_column(String(30))
    first_factor_verified_at: Mapped[datetime | None]
    second_factor_verified_at: Mapped[datetime | None]  # a reset: before the new password
    link_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expire_at: Mapped[datetime] = mapped_column(index=True)

    # Loaded with the flow in one query: every step of a sign-in needs both.
    user: Mapped[User | None] = relationship(lazy="joined")


class SigningKey(Base):
    """An RSA key pair that signs session tokens; retired keys verify until expiry."""

    __tablename__ = "clerk_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    retired_at: Mapped[datetime | None]


class Organization(Timestamps, Base):
    __tablename__ = "clerk_organizations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("org"))
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    created_by: Mapped[str | None] = mapped_column(String(40))
    # None: the instance's CLERK_ORGANIZATION_MAX_MEMBERSHIPS.
    max_allowed_memberships: Mapped[int | None] = mapped_column(Integer)
    admin_delete_enabled: Mapped[bool] = mapped_column(default=True)
    mfa_required: Mapped[bool] = mapped_column(default=False)  # members need a second factor
    public_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    private_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)

    memberships: Mapped[list[OrganizationMembership]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", passive_deletes=True
    )


class OrganizationMembership(Timestamps, Base):
    __tablename__ = "clerk_organization_memberships"
    __table_args__ = (
        Index("uq_clerk_memberships_org_user", "organization_id", "user_id", unique=True),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("orgmem"))
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(64))
    public_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    private_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)

    organization: Mapped[Organization] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship()


class OrganizationInvitation(Timestamps, Base):
    __tablename__ = "clerk_organization_invitations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("orginv"))
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_organizations.id", ondelete="CASCADE"), index=True
    )
    email_address: Mapped[str] = mapped_column(String(320), index=True)  # lower-cased
    role: Mapped[str] = mapped_column(String(64))
    # pending -> accepted | revoked; a pending one past expires_at is expired.
    status: Mapped[str] = mapped_column(String(20), default="pending")
    inviter_id: Mapped[str | None] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    public_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    private_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)

    organization: Mapped[Organization] = relationship()


class OrganizationDomain(Timestamps, CodeVerification, Base):
    """An email domain of an organization: once verified, people with a verified
    address on it are invited or may ask to join, as ``enrollment_mode`` says."""

    __tablename__ = "clerk_organization_domains"
    __table_args__ = (
        Index("uq_clerk_organization_domains_org_name", "organization_id", "name", unique=True),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("orgdmn"))
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(253), index=True)  # lower-case
    # manual_invitation | automatic_invitation | automatic_suggestion
    enrollment_mode: Mapped[str] = mapped_column(String(30), default="manual_invitation")
    verified: Mapped[bool] = mapped_column(default=False)
    verification_strategy: Mapped[str | None] = mapped_column(String(40))
    affiliation_email_address: Mapped[str | None] = mapped_column(String(320))

    organization: Mapped[Organization] = relationship()


class OrganizationMembershipRequest(Timestamps, Base):
    """A user's request to join (from a domain suggestion), for an admin to decide."""

    __tablename__ = "clerk_organization_membership_requests"
    __table_args__ = (
        Index("ix_clerk_membership_requests_org_user", "organization_id", "user_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("orgreq"))
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("clerk_users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # accepted | rejected

    user: Mapped[User] = relationship()


class OrganizationRole(Timestamps, Base):
    """A custom role added with ``flask clerk roles add`` (settings may add more)."""

    __tablename__ = "clerk_organization_roles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # org:<name>
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)


class WebhookReceipt(Base):
    """An inbound webhook message (by its ``svix-id``) this app has taken on: a
    redelivery of a processed one is acknowledged without running handlers again."""

    __tablename__ = "clerk_webhook_receipts"

    svix_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(default=clock.now)
    processed_at: Mapped[datetime | None]


class WebhookEndpoint(Timestamps, Base):
    """Where events are sent (``flask clerk webhooks add``), signed with ``secret``."""

    __tablename__ = "clerk_webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ep"))
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))  # whsec_<base64>
    # After a rotation the old secret signs too, until it expires.
    previous_secret: Mapped[str | None] = mapped_column(String(128))
    previous_secret_expires_at: Mapped[datetime | None]
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every event
    enabled: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str | None] = mapped_column(String(500))
    failing_since: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(200))


class WebhookMessage(Base):
    """An event, written in the same transaction as the change it tells of."""

    __tablename__ = "clerk_webhook_messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # msg_…, the svix-id
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body every endpoint gets
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)


class WebhookDelivery(Base):
    """One message to one endpoint: pending until it succeeds or fails for good."""

    __tablename__ = "clerk_webhook_deliveries"
    __table_args__ = (Index("ix_clerk_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("dlv"))
    message_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_webhook_messages.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")  # succeeded | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now)
    lease_until: Mapped[datetime | None]  # a worker holds it until then
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    message: Mapped[WebhookMessage] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()


class WebhookAttempt(Base):
    """Every try, kept for the dashboard and for replays."""

    __tablename__ = "clerk_webhook_attempts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("atmpt"))
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=clock.now)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_excerpt: Mapped[str | None] = mapped_column(String(1000))
    error: Mapped[str | None] = mapped_column(String(500))


class TotpSecret(Base):
    """A user's authenticator-app secret, encrypted at rest (imported or enrolled)."""

    __tablename__ = "clerk_totp_secrets"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(default=False)
    last_used_step: Mapped[int | None] = mapped_column(Integer)  # a code is used once
    # An enrolment not yet confirmed belongs to the session that started it.
    enrolling_session_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class BackupCode(Base):
    """One single-use backup code, stored hashed (``bcrypt`` digests import as they are)."""

    __tablename__ = "clerk_backup_codes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("bkc"))
    user_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_users.id", ondelete="CASCADE"), index=True
    )
    code_digest: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None]


class IdempotencyRecord(Base):
    """The first response to a Backend API POST sent with an ``Idempotency-Key``."""

    __tablename__ = "clerk_idempotency_records"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)  # None while in flight
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)


class Invitation(Timestamps, Base):
    """An invitation to sign up to the application (Clerk's instance-level ``inv_``)."""

    __tablename__ = "clerk_invitations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("inv"))
    email_address: Mapped[str] = mapped_column(String(320), index=True)  # lower-cased
    # pending -> accepted | revoked; a pending one past expires_at is expired.
    status: Mapped[str] = mapped_column(String(20), default="pending")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    public_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Passkey(Timestamps, Base):
    """A WebAuthn credential registered by a user (a first factor, or a second)."""

    __tablename__ = "clerk_passkeys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("idn"))
    user_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_users.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(100))
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    aaguid: Mapped[str | None] = mapped_column(String(36))
    backed_up: Mapped[bool] = mapped_column(default=False)
    last_used_at: Mapped[datetime | None]
    # The authenticator reported a lower counter than before: a possible clone.
    sign_count_regressed_at: Mapped[datetime | None]


class WebAuthnChallenge(Base):
    """A WebAuthn challenge: single use, expiring, bound to the flow or session
    that asked for it (``binding`` is a hash of its token or id)."""

    __tablename__ = "clerk_webauthn_challenges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("chl"))
    challenge: Mapped[str] = mapped_column(String(128))  # base64url, as sent
    purpose: Mapped[str] = mapped_column(String(20))  # registration | authentication
    binding: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("clerk_users.id", ondelete="CASCADE")
    )
    expire_at: Mapped[datetime] = mapped_column(index=True)


class ExternalAccount(Timestamps, Base):
    """An account at an OAuth / OpenID Connect provider, connected to a user: it
    signs them in (Clerk's ``external_account``, strategy ``oauth_<provider>``)."""

    __tablename__ = "clerk_external_accounts"
    __table_args__ = (
        Index("uq_clerk_external_accounts_provider_user", "provider", "provider_user_id",
              unique=True),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("eac"))
    identification_id: Mapped[str] = mapped_column(String(40), default=lambda: new_id("idn"))
    user_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(64))  # oauth_google, oauth_custom_acme
    provider_user_id: Mapped[str] = mapped_column(String(255))  # "sub", or the API's id
    email_address: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool | None]  # as the provider said when it was connected
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    username: Mapped[str | None] = mapped_column(String(100))
    image_url: Mapped[str | None] = mapped_column(String(2048))
    approved_scopes: Mapped[str] = mapped_column(String(1000), default="")


class OAuthFlow(Base):
    """A redirect to a provider in progress: single use, 10 minutes, bound to the
    browser that started it (``browser_hash``: a cookie's token) and found again by
    its ``state``. It holds the PKCE verifier and the nonce until the callback."""

    __tablename__ = "clerk_oauth_flows"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("oaf"))
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(64))  # the key: google, custom_acme
    intent: Mapped[str] = mapped_column(String(20))  # sign_in | sign_up | connect
    code_verifier: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str | None] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    return_to: Mapped[str] = mapped_column(String(2048))  # the page the button was on
    redirect_url: Mapped[str | None] = mapped_column(String(2048))  # after signing in
    session_id: Mapped[str | None] = mapped_column(String(40))  # connect: whose account
    expire_at: Mapped[datetime] = mapped_column(index=True)


class InstanceAdmin(Base):
    """A user who may use the dashboard (``flask clerk admins add``), besides
    those ``CLERK_DASHBOARD_ADMINS`` names."""

    __tablename__ = "clerk_instance_admins"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class AuditEntry(Base):
    """One dashboard action: who, what, on what, when, from where."""

    __tablename__ = "clerk_audit_log"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("aud"))
    actor_id: Mapped[str | None] = mapped_column(String(40), index=True)  # the administrator
    actor_email: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)  # user.banned, user.impersonated
    target_type: Mapped[str | None] = mapped_column(String(40))  # user, organization, …
    target_id: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)


class ActorToken(Timestamps, Base):
    """Clerk's actor token: signs its holder in as ``user_id`` on behalf of
    ``actor`` (impersonation), once, before ``expires_at``."""

    __tablename__ = "clerk_actor_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("act"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("clerk_users.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # accepted | revoked
    expires_at: Mapped[datetime]
    session_max_duration: Mapped[int] = mapped_column(Integer, default=1800)  # s


class UserActivity(Base):
    """A day (UTC) on which a user signed in or used a session: daily and monthly
    active users (MAU). Kept when the user is deleted: last month's count stands."""

    __tablename__ = "clerk_user_activity"

    user_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)


class ApiKey(Base):
    """A Backend API secret key made by rolling (only its hash). Before the first
    roll only ``CLERK_SECRET_KEY`` is accepted; the first roll records that key
    here too, with the grace period after which it is refused."""

    __tablename__ = "clerk_api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ak"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))  # the last characters, to tell keys apart
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime | None]  # None: valid until rolled


class InstanceSetting(Base):
    """A setting changed from the dashboard: it overrides the configuration, in
    every process, without a restart (``flask_clerk.settings.EDITABLE``)."""

    __tablename__ = "clerk_instance_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # a Settings field
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    updated_by: Mapped[str | None] = mapped_column(String(40))


class WaitlistEntry(Timestamps, Base):
    """Someone waiting to be invited to sign up (Clerk's ``waitlist`` sign-up mode);
    one per address. pending -> invited (an invitation was sent) -> completed (they
    signed up); or rejected."""

    __tablename__ = "clerk_waitlist_entries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("wle"))
    email_address: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    invitation_id: Mapped[str | None] = mapped_column(
        ForeignKey("clerk_invitations.id", ondelete="SET NULL"))

    invitation: Mapped[Invitation | None] = relationship()
