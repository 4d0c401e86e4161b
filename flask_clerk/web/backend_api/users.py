"""``/v1/users``: list, count, create, get, update, delete, ban, lock, metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from ...core import external_accounts, mfa, passkeys, user_admin
from ...core.models import OrganizationMembership, User
from ...core.password_digests import validate_digest
from ...core.serializers import user_json
from ...core.user_import import (
    clean_external_id,
    clean_metadata,
    clean_username,
    create_user_from_payload,
    parse_timestamp,
)
from ...core.users import clean_name, remove_user
from ...errors import ClerkError
from ...extension import db_session, state
from . import bp, json_response
from .organizations import memberships_page
from .params import Body, check_query, page, query_bool, query_int, query_list

_LIST_FILTERS = {"user_id", "email_address", "external_id", "username", "organization_id",
                 "query", "banned"}
_TIME_FILTERS = {
    "created_at_before": (User.created_at, "<"), "created_at_after": (User.created_at, ">"),
    "last_active_at_before": (User.last_active_at, "<"),
    "last_active_at_after": (User.last_active_at, ">"),
    "last_active_at_since": (User.last_active_at, ">"),
    "last_sign_in_at_before": (User.last_sign_in_at, "<"),
    "last_sign_in_at_after": (User.last_sign_in_at, ">"),
}


def _filters() -> user_admin.UserFilters:
    query = request.args.get("query") or None
    if query is not None and len(query) > 200:
        raise ClerkError("form_param_too_long", field="query")
    filters = user_admin.UserFilters(
        user_id=query_list("user_id"), email_address=query_list("email_address"),
        external_id=query_list("external_id"), username=query_list("username"),
        organization_id=query_list("organization_id"), query=query,
        banned=query_bool("banned"),
    )
    for name, (column, op) in _TIME_FILTERS.items():
        if name in request.args:
            at = datetime.fromtimestamp(query_int(name, 0, maximum=2**42) / 1000, UTC)
            filters.conditions.append(column < at if op == "<" else column > at)
    return filters


@bp.get("/users")
def list_users() -> Response:
    check_query(_LIST_FILTERS | set(_TIME_FILTERS) | {"limit", "offset", "order_by"})
    limit, offset = page()
    # A "+" sent unencoded in a query string arrives as a space: ascending too.
    order_by = (request.args.get("order_by") or "-created_at").replace(" ", "+", 1)
    users = user_admin.list_users(db_session(), _filters(), limit=limit, offset=offset,
                                  order_by=order_by)
    return json_response([user_json(u) for u in users])


@bp.get("/users/count")
def count_users() -> Response:
    check_query(_LIST_FILTERS | set(_TIME_FILTERS))
    return json_response({"object": "total_count",
                          "total_count": user_admin.count_users(db_session(), _filters())})


@bp.post("/users")
def create_user() -> Response:
    body = Body.from_request()
    user = create_user_from_payload(state().instance, db_session(), body.data)
    return json_response(user_json(user))


@bp.get("/users/<user_id>")
def get_user(user_id: str) -> Response:
    return json_response(user_json(user_admin.get_user(db_session(), user_id)))


@bp.patch("/users/<user_id>")
def update_user(user_id: str) -> Response:
    body = Body.from_request()
    user = user_admin.get_user(db_session(), user_id)
    changes = user_admin.UserChanges()
    for name in ("first_name", "last_name"):
        if name in body:
            changes.values[name] = clean_name(body.take(name, str), name, required=False)
    if "username" in body:
        changes.values["username"] = clean_username(body.take("username", str))
    if "external_id" in body:
        changes.values["external_id"] = clean_external_id(body.take("external_id", str))
    for kind in user_admin.METADATA_KINDS:
        if kind in body:
            changes.values[kind] = clean_metadata(body.take(kind, dict), kind)
    if body.take("created_at", str) is not None:
        changes.values["created_at"] = parse_timestamp(body.data["created_at"], "created_at")
    changes.primary_email_address_id = body.take("primary_email_address_id", str)
    body.take("notify_primary_email_address_changed", bool)
    changes.password = body.take("password", str)
    changes.skip_password_checks = bool(body.take("skip_password_checks", bool))
    changes.sign_out_of_other_sessions = bool(body.take("sign_out_of_other_sessions", bool))
    digest, hasher = body.take("password_digest", str), body.take("password_hasher", str)
    if (digest is None) != (hasher is None) or (digest is not None and changes.password):
        raise ClerkError("form_param_format_invalid",
                         field="password_hasher" if digest else "password_digest")
    if digest is not None and hasher is not None:
        validate_digest(hasher, digest)
        changes.password_digest = (digest, hasher)
    body.done()
    return json_response(user_json(user_admin.update_user(state().instance, db_session(), user,
                                                          changes)))


@bp.delete("/users/<user_id>")
def delete_user(user_id: str) -> Response:
    db = db_session()
    user = user_admin.get_user(db, user_id)
    remove_user(state().instance, db, user)
    return json_response({"object": "user", "id": user_id, "deleted": True,
                          "external_id": user.external_id})


@bp.post("/users/<user_id>/ban")
def ban_user(user_id: str) -> Response:
    return _set(user_id, user_admin.set_banned, True)


@bp.post("/users/<user_id>/unban")
def unban_user(user_id: str) -> Response:
    return _set(user_id, user_admin.set_banned, False)


@bp.post("/users/<user_id>/lock")
def lock_user(user_id: str) -> Response:
    return _set(user_id, user_admin.set_locked, True)


@bp.post("/users/<user_id>/unlock")
def unlock_user(user_id: str) -> Response:
    return _set(user_id, user_admin.set_locked, False)


def _set(user_id: str, action: Any, value: bool) -> Response:
    Body.from_request().done()
    db = db_session()
    user = action(state().instance, db, user_admin.get_user(db, user_id), value)
    return json_response(user_json(user))


@bp.patch("/users/<user_id>/metadata")
def merge_user_metadata(user_id: str) -> Response:
    body = Body.from_request()
    taken = {kind: body.take(kind, dict) for kind in user_admin.METADATA_KINDS}
    patches = {kind: clean_metadata(value, kind) for kind, value in taken.items()
               if value is not None}
    body.done()
    db = db_session()
    user = user_admin.update_metadata(state().instance, db, user_admin.get_user(db, user_id),
                                      patches)
    return json_response(user_json(user))


@bp.post("/users/<user_id>/verify_password")
def verify_password(user_id: str) -> Response:
    body = Body.from_request()
    password = body.take("password", str, required=True)
    body.done()
    db = db_session()
    if not user_admin.verify_password(state().instance, db, user_admin.get_user(db, user_id),
                                      password):
        raise ClerkError("form_password_incorrect", field="password")
    return json_response({"verified": True})


@bp.post("/users/<user_id>/verify_totp")
def verify_totp(user_id: str) -> Response:
    """A code from the user's authenticator app, or one of their backup codes."""
    body = Body.from_request()
    code = body.take("code", str, required=True)
    body.done()
    db = db_session()
    kind = user_admin.verify_second_factor_code(state().instance, db,
                                                user_admin.get_user(db, user_id), code)
    if kind is None:
        raise ClerkError("form_code_incorrect", field="code")
    return json_response({"verified": True, "code_type": kind})


@bp.delete("/users/<user_id>/mfa")
@bp.delete("/users/<user_id>/totp")
def disable_mfa(user_id: str) -> Response:
    """The authenticator app is the second factor: both turn it off, with its
    backup codes."""
    db = db_session()
    mfa.remove_totp(state().instance, db, user_admin.get_user(db, user_id))
    return json_response({"user_id": user_id})


@bp.delete("/users/<user_id>/backup_code")
def delete_backup_codes(user_id: str) -> Response:
    db = db_session()
    mfa.remove_backup_codes(state().instance, db, user_admin.get_user(db, user_id))
    return json_response({"user_id": user_id})


@bp.delete("/users/<user_id>/passkeys/<passkey_id>")
def delete_passkey(user_id: str, passkey_id: str) -> Response:
    db = db_session()
    passkeys.remove_passkey(state().instance, db, user_admin.get_user(db, user_id), passkey_id)
    return json_response({"object": "passkey", "id": passkey_id, "deleted": True})


@bp.delete("/users/<user_id>/external_accounts/<external_account_id>")
def delete_external_account(user_id: str, external_account_id: str) -> Response:
    """Disconnect a provider account (an administrator may remove the last way in)."""
    db = db_session()
    external_accounts.delete_external_account(
        state().instance, db, user_admin.get_user(db, user_id), external_account_id)
    return json_response({"object": "external_account", "id": external_account_id,
                          "deleted": True})


@bp.get("/users/<user_id>/organization_memberships")
def user_memberships(user_id: str) -> Response:
    check_query({"limit", "offset"})
    db = db_session()
    user_admin.get_user(db, user_id)
    statement = (select(OrganizationMembership)
                 .options(joinedload(OrganizationMembership.organization),
                          joinedload(OrganizationMembership.user))
                 .where(OrganizationMembership.user_id == user_id))
    return memberships_page(db, statement)
