"""Creating users from Clerk's ``POST /v1/users`` body: one (the Backend API), or a
file of them (``flask clerk import``).

:func:`parse_new_user` validates a body without touching the database or hashing
anything; :func:`create_users` writes a batch with one executemany INSERT per table
(no ORM unit of work per user) and hashes only what arrives in the clear (a ``password``,
plain ``backup_codes``): imported digests are stored as they are, so a file of
bcrypt digests imports at thousands of users a second. :func:`import_rows` is the
file import: batches committed one by one, and idempotent, so that a killed import
can be run again and creates nobody twice.

The field validators (:func:`clean_username`, :func:`clean_external_id`,
:func:`clean_metadata`, :func:`parse_timestamp`, :func:`clean_totp_secret`) are
public: ``PATCH /v1/users/{id}`` uses the same rules.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import selectinload

from ..errors import ClerkError
from ..ids import new_id
from . import clock
from .instance import Instance
from .models import BackupCode, EmailAddress, TotpSecret, User
from .password_digests import validate_digest
from .secret_box import seal
from .serializers import user_json
from .user_search import indexed_in_bulk
from .users import check_new_password, clean_name, normalize_email, password_context
from .webhooks import emit

# Every key of Clerk's CreateUser body (clerk_backend_api 7.0's CreateUserRequestBody).
BODY_KEYS = frozenset({
    "external_id", "first_name", "last_name", "locale", "email_address",
    "email_address_identification_status", "phone_number",
    "phone_number_identification_status", "web3_wallet", "username", "password",
    "password_digest", "password_hasher", "skip_password_checks", "skip_password_requirement",
    "totp_secret", "backup_codes", "public_metadata", "private_metadata", "unsafe_metadata",
    "delete_self_enabled", "legal_accepted_at", "skip_legal_checks", "skip_user_requirement",
    "create_organization_enabled", "create_organizations_limit", "created_at",
    "bypass_client_trust", "banned", "locked",
})
USERNAME = re.compile(r"[a-z0-9_-]+")
USERNAME_MIN, USERNAME_MAX = 4, 64  # Clerk's default limits
EXTERNAL_ID_MAX = 255
METADATA_MAX = 8 * 1024  # bytes of JSON per metadata field, Clerk's limit
LOCALE_MAX = 35
TOTP_MIN_BYTES = 10  # 80 bits; Clerk's own secrets are 20 bytes (32 base32 characters)
TOTP_MAX_LENGTH = 128
BACKUP_CODES_MAX = 50
# From this many users at once, the search index is written in bulk (see create_users).
BULK_INDEX_FROM = 50
BACKUP_CODE_MAX_LENGTH = 64
# Backup code digests kept as they are: bcrypt (Clerk's) and argon2id (ours, re-imported).
BACKUP_CODE_DIGEST = re.compile(
    r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}|\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+"
    r"\$[A-Za-z0-9+/]+")


@dataclass
class NewUser:
    """The validated fields of a ``POST /v1/users`` body.

    ``password`` and ``plain_backup_codes`` are still in the clear: :func:`create_users`
    hashes them, so that a row that turns out to exist already costs no hashing.
    """

    email_addresses: list[str] = field(default_factory=list)  # lower-cased; first is primary
    external_id: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    password: str | None = field(default=None, repr=False)
    password_digest: str | None = field(default=None, repr=False)
    password_hasher: str | None = None  # of an imported digest; None: ours (argon2id)
    totp_secret: str | None = field(default=None, repr=False)  # base32, upper case
    backup_code_digests: list[str] = field(default_factory=list, repr=False)
    plain_backup_codes: list[str] = field(default_factory=list, repr=False)
    public_metadata: dict[str, Any] = field(default_factory=dict)
    private_metadata: dict[str, Any] = field(default_factory=dict)
    unsafe_metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    banned: bool = False
    locked: bool = False
    # Accepted and checked, but not stored: the store has no columns for them yet, and
    # what the API serves for them is the instance-wide behaviour.
    locale: str | None = None
    legal_accepted_at: datetime | None = None
    delete_self_enabled: bool | None = None
    create_organization_enabled: bool | None = None
    create_organizations_limit: int | None = None
    bypass_client_trust: bool | None = None


# --- Field validators (shared with PATCH /v1/users/{id}) ---------------------------------


def clean_username(value: Any, field: str = "username") -> str | None:
    """Lower-cased, 4-64 of ``a-z 0-9 _ -`` (Clerk's rule); None for none."""
    text = _string(value, field)
    if text is None or not text.strip():
        return None
    username = text.strip().lower()
    if not USERNAME.fullmatch(username):
        raise ClerkError("form_username_invalid_character", field=field)
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        raise ClerkError("form_username_invalid_length", field=field,
                         min_length=USERNAME_MIN, max_length=USERNAME_MAX)
    return username


def clean_external_id(value: Any, field: str = "external_id") -> str | None:
    text = _string(value, field)
    if text is None or not text.strip():
        return None
    if len(text.strip()) > EXTERNAL_ID_MAX:
        raise ClerkError("form_param_too_long", field=field)
    return text.strip()


def clean_metadata(value: Any, field: str) -> dict[str, Any]:
    """A JSON object of at most 8 KB serialized; ``{}`` for None."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ClerkError("form_param_format_invalid", field=field)
    try:
        size = len(json.dumps(value, separators=(",", ":"), allow_nan=False).encode())
    except (TypeError, ValueError, RecursionError):
        raise ClerkError("form_param_format_invalid", field=field) from None
    if size > METADATA_MAX:
        raise ClerkError("form_param_exceeds_allowed_size", field=field, max=METADATA_MAX)
    return value


def parse_timestamp(value: Any, field: str) -> datetime:
    """An RFC 3339 date-time with its offset (``2012-10-20T07:15:20.902Z``), as UTC."""
    if not isinstance(value, str):
        raise ClerkError("form_param_format_invalid", field=field)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ClerkError("form_param_format_invalid", field=field) from None
    if moment.tzinfo is None:
        raise ClerkError("form_param_format_invalid", field=field)
    return moment.astimezone(UTC)


def clean_totp_secret(value: Any, field: str = "totp_secret") -> str | None:
    """A base32 secret of at least 80 bits, upper-cased without padding or spaces."""
    text = _string(value, field)
    if text is None or not text.strip():
        return None
    secret = "".join(text.split()).upper().rstrip("=")
    if len(secret) > TOTP_MAX_LENGTH:
        raise ClerkError("form_param_format_invalid", field=field)
    try:
        decoded = base64.b32decode(secret + "=" * (-len(secret) % 8))
    except (binascii.Error, ValueError):
        raise ClerkError("form_param_format_invalid", field=field) from None
    if len(decoded) < TOTP_MIN_BYTES:
        raise ClerkError("form_param_format_invalid", field=field)
    return secret


# --- The body -----------------------------------------------------------------------------


def parse_new_user(instance: Instance, body: Mapping[str, Any]) -> NewUser:
    """Validate a ``POST /v1/users`` body; :class:`ClerkError` names the first bad field.

    Cheap: no query and no hashing (a ``password`` is checked against the rules here
    and hashed by :func:`create_users`). Phone numbers and web3 wallets are not
    supported: a non-empty list is refused with ``form_param_unknown``.
    """
    if not isinstance(body, Mapping):
        raise ClerkError("request_body_invalid")
    for key in body:
        if key not in BODY_KEYS:
            raise ClerkError("form_param_unknown", field=str(key))
    get = body.get
    new = NewUser()
    addresses = _string_list(get("email_address"), "email_address")
    new.email_addresses = _email_addresses(addresses)
    statuses = _string_list(get("email_address_identification_status"),
                            "email_address_identification_status")
    if statuses and len(statuses) != len(addresses):
        raise ClerkError("form_param_format_invalid", field="email_address_identification_status")
    if any(status != "verified" for status in statuses):
        # Reserved addresses (unverified, yet no one else may claim them) have no
        # counterpart in this store.
        raise ClerkError("form_param_value_invalid", field="email_address_identification_status")
    for key in ("phone_number", "web3_wallet"):
        if _string_list(get(key), key):
            raise ClerkError("form_param_unknown", field=key)
    _string_list(get("phone_number_identification_status"), "phone_number_identification_status")
    new.username = clean_username(get("username"))
    if not new.email_addresses and new.username is None:
        raise ClerkError("form_param_missing", field="email_address")
    new.external_id = clean_external_id(get("external_id"))
    new.first_name = clean_name(_string(get("first_name"), "first_name"), "first_name",
                                required=False)
    new.last_name = clean_name(_string(get("last_name"), "last_name"), "last_name",
                               required=False)
    _password(instance, new, body)
    new.totp_secret = clean_totp_secret(get("totp_secret"))
    _backup_codes(new, get("backup_codes"))
    for key in ("public_metadata", "private_metadata", "unsafe_metadata"):
        setattr(new, key, clean_metadata(get(key), key))
    for key in ("created_at", "legal_accepted_at"):
        if get(key) is not None:
            setattr(new, key, parse_timestamp(get(key), key))
    new.banned = bool(_flag(get("banned"), "banned"))
    new.locked = bool(_flag(get("locked"), "locked"))
    for key in ("skip_password_requirement", "skip_legal_checks", "skip_user_requirement"):
        _flag(get(key), key)  # nothing here requires a password, legal consent or more ids
    new.delete_self_enabled = _flag(get("delete_self_enabled"), "delete_self_enabled")
    new.create_organization_enabled = _flag(get("create_organization_enabled"),
                                            "create_organization_enabled")
    new.bypass_client_trust = _flag(get("bypass_client_trust"), "bypass_client_trust")
    new.create_organizations_limit = _count(get("create_organizations_limit"),
                                            "create_organizations_limit")
    locale = _string(get("locale"), "locale")
    if locale is not None and len(locale) > LOCALE_MAX:
        raise ClerkError("form_param_too_long", field="locale")
    new.locale = locale or None
    return new


def _password(instance: Instance, new: NewUser, body: Mapping[str, Any]) -> None:
    password = _string(body.get("password"), "password") or None
    digest = _string(body.get("password_digest"), "password_digest") or None
    hasher = _string(body.get("password_hasher"), "password_hasher") or None
    skip_checks = _flag(body.get("skip_password_checks"), "skip_password_checks")
    if password is not None and (digest is not None or hasher is not None):
        raise ClerkError("form_param_value_invalid", field="password_digest")
    if password is not None:
        if len(password) > instance.settings.password_max_length:
            # Even unchecked, a password is bounded (no hashing a megabyte).
            raise ClerkError("form_password_length_too_long", field="password",
                             max=instance.settings.password_max_length)
        if not skip_checks:
            check_new_password(instance, password, None, password_context(
                instance, new.email_addresses[0] if new.email_addresses else None,
                new.first_name, new.last_name))
        new.password = password
        return
    if digest is None and hasher is None:
        return
    if hasher is None:
        raise ClerkError("form_param_missing", field="password_hasher")
    if digest is None:
        raise ClerkError("form_param_missing", field="password_digest")
    validate_digest(hasher, digest)
    # Kept with its hasher, argon2id too: the failure floor (password_timing) then
    # knows of it, and the first sign-in re-hashes it with our parameters.
    new.password_digest, new.password_hasher = digest, hasher


def _backup_codes(new: NewUser, value: Any) -> None:
    codes = _string_list(value, "backup_codes")
    if len(codes) > BACKUP_CODES_MAX:
        raise ClerkError("form_param_format_invalid", field="backup_codes")
    for code in codes:
        if BACKUP_CODE_DIGEST.fullmatch(code):
            # Within the same work-factor bounds as password digests: each code is
            # hashed at every check.
            try:
                validate_digest("bcrypt" if code.startswith("$2") else "argon2id", code)
            except ClerkError:
                raise ClerkError("form_param_format_invalid", field="backup_codes") from None
            new.backup_code_digests.append(code)
        elif code.startswith("$") or not 0 < len(code.strip()) <= BACKUP_CODE_MAX_LENGTH:
            raise ClerkError("form_param_format_invalid", field="backup_codes")
        else:
            new.plain_backup_codes.append(code.strip())


def _email_addresses(values: list[str]) -> list[str]:
    addresses: list[str] = []
    for raw in values:
        address = normalize_email(raw)
        if address not in addresses:
            addresses.append(address)
    return addresses


def _string(value: Any, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ClerkError("form_param_format_invalid", field=field)
    return value


def _string_list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ClerkError("form_param_format_invalid", field=field)
    return value


def _flag(value: Any, field: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ClerkError("form_param_format_invalid", field=field)
    return value


def _count(value: Any, field: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 0):
        raise ClerkError("form_param_format_invalid", field=field)
    return value


# --- Writing ----------------------------------------------------------------------------


def create_users(instance: Instance, db: DbSession, users: Sequence[NewUser], *,
                 events: bool = True) -> list[str]:
    """Insert ``users`` (validated, not checked for duplicates) in the caller's
    transaction, with one executemany INSERT per table; their new ids, in order.

    Emits ``user.created`` for each unless ``events`` is false (building the payload
    only when an endpoint listens). The caller commits; a duplicate raises
    :class:`IntegrityError` at the INSERT, and the caller must then roll back (from
    ``BULK_INDEX_FROM`` users the search index's triggers are down until the end).
    """
    now = clock.now()
    settings = instance.settings
    lock_until = now + timedelta(seconds=settings.lockout_duration)
    user_rows: list[dict[str, Any]] = []
    email_rows: list[dict[str, Any]] = []
    totp_rows: list[dict[str, Any]] = []
    code_rows: list[dict[str, Any]] = []
    for new in users:
        user_id = new_id("user")
        created = new.created_at or now
        digest = new.password_digest
        if new.password is not None:
            digest = instance.hasher.hash(new.password)
        addresses = [{
            "id": new_id("idn"), "user_id": user_id, "email_address": address,
            "verification_status": "verified", "verification_strategy": "admin",
            "code_attempts": 0,
            # A microsecond apart: the addresses keep their order (primary first).
            "created_at": created + timedelta(microseconds=i), "updated_at": now,
        } for i, address in enumerate(new.email_addresses)]
        email_rows.extend(addresses)
        user_rows.append({
            "id": user_id, "external_id": new.external_id, "username": new.username,
            "first_name": new.first_name, "last_name": new.last_name,
            "password_digest": digest,
            "password_hasher": new.password_hasher if new.password is None else None,
            "password_last_updated_at": now if digest else None,
            "primary_email_address_id": addresses[0]["id"] if addresses else None,
            "public_metadata": new.public_metadata, "private_metadata": new.private_metadata,
            "unsafe_metadata": new.unsafe_metadata, "banned": new.banned,
            # Clerk's "locked" is a lockout: it ends after CLERK_LOCKOUT_DURATION.
            "failed_attempts": 0, "locked_until": lock_until if new.locked else None,
            "mfa_enabled_at": now if new.totp_secret else None,
            "created_at": created, "updated_at": now,
        })
        if new.totp_secret:
            totp_rows.append({"user_id": user_id, "verified": True, "created_at": now,
                              "secret_encrypted": seal(settings, new.totp_secret)})
        code_rows.extend({"id": new_id("bkc"), "user_id": user_id, "code_digest": code}
                         for code in [*new.backup_code_digests,
                                      *map(instance.hasher.hash, new.plain_backup_codes)])
    # Many users: the search index (FTS5 on SQLite) is written with one statement per
    # table, not by a trigger per row, which would halve the import's speed. A few:
    # the triggers are cheaper than taking them down and up again.
    bulk: AbstractContextManager[None] = (
        indexed_in_bulk(db) if len(user_rows) >= BULK_INDEX_FROM else nullcontext())
    with bulk:
        for model, rows in ((User, user_rows), (EmailAddress, email_rows),
                            (TotpSecret, totp_rows), (BackupCode, code_rows)):
            if rows:  # Core executemany on the table: no ORM bookkeeping per row
                db.execute(insert(cast(Table, model.__table__)), rows)
    if events:
        by_user: dict[str, list[dict[str, Any]]] = {row["id"]: [] for row in user_rows}
        for address in email_rows:
            by_user[address["user_id"]].append(address)
        for row in user_rows:
            emit(instance, db, "user.created", partial(_created_json, row, by_user[row["id"]]))
    return [row["id"] for row in user_rows]


def _created_json(row: Mapping[str, Any], addresses: list[dict[str, Any]]) -> dict[str, Any]:
    """The event's user, from the rows inserted (a User object never added to the
    session: serialized, then dropped)."""
    user = User(**row)
    user.email_addresses = [EmailAddress(**address) for address in addresses]
    return user_json(user)


def taken_field(db: DbSession, new: NewUser) -> str | None:
    """Which identifier of ``new`` another user holds already, if any."""
    if new.email_addresses and db.scalar(select(EmailAddress.id).where(
            EmailAddress.email_address.in_(new.email_addresses),
            EmailAddress.verification_status == "verified").limit(1)):
        return "email_address"
    if new.username and db.scalar(select(User.id).where(User.username == new.username)):
        return "username"
    if new.external_id and db.scalar(select(User.id).where(
            User.external_id == new.external_id)):
        return "external_id"
    return None


def create_user_from_payload(instance: Instance, db: DbSession, body: Mapping[str, Any]
                             ) -> User:
    """``POST /v1/users``: validate, refuse a taken identifier, create, commit."""
    new = parse_new_user(instance, body)
    taken = taken_field(db, new)
    if taken is None:
        try:
            (user_id,) = create_users(instance, db, [new])
            db.commit()
        except IntegrityError:  # created meanwhile by someone else
            db.rollback()
            taken = taken_field(db, new) or "email_address"
    if taken is not None:
        raise ClerkError("form_identifier_exists", field=taken)
    _digests_imported(instance, [new])
    return db.scalars(select(User).options(selectinload(User.email_addresses),
                                           selectinload(User.passkeys),
                                           selectinload(User.external_accounts))
                      .where(User.id == user_id)).one()


# --- Files ------------------------------------------------------------------------------------

# Clerk's export CSV (the dashboard's "Export all users"), and the extra columns
# ``flask clerk export`` adds; other columns are ignored.
CLERK_COLUMNS = (
    "id", "first_name", "last_name", "username", "primary_email_address",
    "primary_phone_number", "verified_email_addresses", "unverified_email_addresses",
    "verified_phone_numbers", "unverified_phone_numbers", "totp_secret", "password_digest",
    "password_hasher",
)
EXTRA_COLUMNS = ("external_id", "created_at", "banned", "public_metadata", "private_metadata",
                 "unsafe_metadata", "backup_codes")
EXPORT_MARKERS = frozenset({"id", "primary_email_address", "verified_email_addresses"})
# Clerk's export joins a cell's values with "|" (its migration tool reads "|" and ",").
CELL_SEPARATOR = "|"
_CELL_SPLIT = re.compile(r"[,|]")


def csv_row_to_body(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of Clerk's export (CSV cells as text, or the same keys in JSON) as a
    ``POST /v1/users`` body.

    The old ``id`` becomes the ``external_id`` (unless the row has one), as Clerk's
    migration tool does: the app can map its references, and a re-run finds the user.
    Unverified addresses and phone numbers are not imported (the body can only create
    verified ones); a verified phone number makes :func:`parse_new_user` refuse the
    row, as this store has no phone numbers: drop those columns to import such users
    without them.
    """
    def cell(key: str) -> str | None:
        value = row.get(key)
        if isinstance(value, str):
            value = value.strip()
        return value or None

    body: dict[str, Any] = {
        "email_address": _unique([*_cells(row.get("primary_email_address")),
                                  *_cells(row.get("verified_email_addresses"))]),
        "phone_number": _unique([*_cells(row.get("primary_phone_number")),
                                 *_cells(row.get("verified_phone_numbers"))]),
        "external_id": cell("external_id") or cell("id"),
        "first_name": cell("first_name"), "last_name": cell("last_name"),
        "username": cell("username"), "totp_secret": cell("totp_secret"),
        "password_digest": cell("password_digest"), "password_hasher": cell("password_hasher"),
        # Only "|" here: an argon2 digest has commas in it.
        "backup_codes": _cells(row.get("backup_codes"), CELL_SEPARATOR),
        "created_at": cell("created_at"),
        "skip_password_checks": True,
    }
    banned = row.get("banned")
    if isinstance(banned, str):
        lowered = banned.strip().lower()
        banned = {"true": True, "1": True, "false": False, "0": False, "": None}.get(
            lowered, banned)
    body["banned"] = banned
    for key in ("public_metadata", "private_metadata", "unsafe_metadata"):
        body[key] = _json_cell(row.get(key))
    return {key: value for key, value in body.items() if value not in (None, [])}


def _cells(value: Any, separator: str | None = None) -> list[str]:
    """A multi-valued cell's values: a JSON list, or text split on ``|`` or ``,``."""
    if isinstance(value, list):
        return [str(item).strip() for item in value if item]
    if isinstance(value, str):
        parts = value.split(separator) if separator else _CELL_SPLIT.split(value)
        return [part.strip() for part in parts if part.strip()]
    return []


def _unique(values: list[str]) -> list[str]:
    """Without repeats (ignoring case), in order."""
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.lower(), value)
    return list(seen.values())


def _json_cell(value: Any) -> Any:
    """Metadata from a CSV cell: JSON text (sometimes encoded twice), or as given."""
    for _ in range(2):
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except ValueError:
            return value  # parse_new_user refuses it, naming the field
    return value


def row_to_body(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """A file's row as a body: export-shaped rows are mapped, others are bodies."""
    return row if EXPORT_MARKERS.isdisjoint(row.keys()) else csv_row_to_body(row)


@dataclass
class ImportResult:
    created: int = 0
    skipped: int = 0  # already there: imported before, or earlier in the same file
    rejected: int = 0


Rejected = Callable[[int, Any, ClerkError], None]


def import_rows(instance: Instance, db: DbSession, rows: Iterable[Any], *, events: bool,
                batch_size: int = 1000, on_reject: Rejected,
                on_progress: Callable[[int], None]) -> ImportResult:
    """Import ``rows`` (bodies, or rows of Clerk's export), committing every batch.

    Idempotent: a row whose ``external_id`` or any email address is already in the
    store (imported before, or earlier in the file), or, when it has neither, whose
    username is, is skipped. So a killed import, run again, carries on where it
    stopped and creates nobody twice. An invalid row is handed to ``on_reject`` with
    its 1-based position and the reason; ``on_progress`` gets the number of rows done
    after each batch. Memory holds one batch, whatever the file's size.
    """
    result = ImportResult()
    batch: list[tuple[int, Any]] = []
    position = 0
    for position, row in enumerate(rows, start=1):
        batch.append((position, row))
        if len(batch) >= batch_size:
            _import_batch(instance, db, batch, events, result, on_reject)
            batch = []
            on_progress(position)
    if batch:
        _import_batch(instance, db, batch, events, result, on_reject)
    on_progress(position)
    return result


def _import_batch(instance: Instance, db: DbSession, batch: list[tuple[int, Any]],
                  events: bool, result: ImportResult, on_reject: Rejected) -> None:
    parsed: list[tuple[int, Any, NewUser]] = []
    for position, row in batch:
        try:
            if not isinstance(row, Mapping):
                raise ClerkError("request_body_invalid")
            parsed.append((position, row, parse_new_user(instance, row_to_body(row))))
        except ClerkError as error:
            result.rejected += 1
            on_reject(position, row, error)
    taken_emails = _existing(db, EmailAddress.email_address,
                             {address for _, _, new in parsed for address in new.email_addresses},
                             EmailAddress.verification_status == "verified")
    taken_external_ids = _existing(db, User.external_id,
                                   {new.external_id for _, _, new in parsed if new.external_id})
    taken_usernames = _existing(db, User.username,
                                {new.username for _, _, new in parsed if new.username})
    fresh: list[tuple[int, Any, NewUser]] = []
    for position, row, new in parsed:
        external_ids = [new.external_id] if new.external_id else []
        if (any(key in taken_external_ids for key in external_ids)
                or any(address in taken_emails for address in new.email_addresses)
                or (not external_ids and not new.email_addresses
                    and new.username in taken_usernames)):
            result.skipped += 1
            continue
        if new.username in taken_usernames:
            result.rejected += 1
            on_reject(position, row, ClerkError("form_identifier_exists", field="username"))
            continue
        fresh.append((position, row, new))
        # Later rows of the batch with one of these are "already there" too.
        taken_emails.update(new.email_addresses)
        taken_external_ids.update(external_ids)
        taken_usernames.update([new.username] if new.username else [])
    try:
        create_users(instance, db, [new for _, _, new in fresh], events=events)
        db.commit()
        result.created += len(fresh)
        _digests_imported(instance, [new for _, _, new in fresh])
    except IntegrityError:
        # Someone else created one of them meanwhile: one by one, to find out whom.
        db.rollback()
        for position, row, new in fresh:
            try:
                create_users(instance, db, [new], events=events)
                db.commit()
                result.created += 1
                _digests_imported(instance, [new])
            except IntegrityError:
                db.rollback()
                result.rejected += 1
                on_reject(position, row, ClerkError(
                    "form_identifier_exists", field=taken_field(db, new) or "email_address"))


def _digests_imported(instance: Instance, users: Sequence[NewUser]) -> None:
    """Failed sign-ins are padded to the slowest imported digest: measure again."""
    if any(new.password_hasher for new in users):
        instance.failure_floor.invalidate()


def _existing(db: DbSession, column: Any, values: set[str], *conditions: Any) -> set[str]:
    if not values:
        return set()
    return set(db.scalars(select(column).where(column.in_(values), *conditions)))
