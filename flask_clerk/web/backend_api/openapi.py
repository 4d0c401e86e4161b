"""``GET /v1/openapi.json``: the OpenAPI 3.1 document of the Backend API served here.

It describes exactly the operations this blueprint implements (a test walks the
routes and fails on any difference), with Clerk's field names and the shapes
:mod:`flask_clerk.core.serializers` emits: every key present, ``null`` where the
store may have nothing. Request bodies refuse unknown keys, as :mod:`.params` does.
"""

from __future__ import annotations

import copy
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from werkzeug.wrappers import Response

from ...core.sessions import SESSION_STATUSES
from ...core.user_admin import ORDERS
from ...core.user_import import EXTERNAL_ID_MAX, LOCALE_MAX, USERNAME_MAX, USERNAME_MIN
from ...core.users import NAME_MAX
from ...core.waitlist import ORDERS as WAITLIST_ORDERS
from ...core.waitlist import STATUSES as WAITLIST_STATUSES
from . import bp, json_response
from .organizations import MAX_MEMBERSHIPS
from .params import MAX_LIMIT

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
OBJECT: Schema = {"type": "object"}
STRINGS: Schema = {"type": "array", "items": STRING}
OBJECTS: Schema = {"type": "array", "items": OBJECT}
MILLIS: Schema = {"type": "integer", "description": "Unix time in milliseconds."}
DATE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
METADATA: Schema = {"type": "object", "additionalProperties": True}
INVITATION_STATUSES = ["pending", "accepted", "revoked", "expired"]


def _null(schema: Schema) -> Schema:
    """``schema`` or ``null`` (a plain type, for 3.1's type arrays)."""
    return {**schema, "type": [schema["type"], "null"]}


def _ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _object(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """A response object: every key but ``optional`` present, nothing else."""
    return {"type": "object", "properties": properties,
            "required": [k for k in properties if k not in optional],
            "additionalProperties": False}


def _const(value: str) -> Schema:
    return {"type": "string", "const": value}


# --- Component schemas (what the serializers emit) -------------------------------------

_VERIFICATION = _object({
    "object": STRING, "status": STRING, "strategy": STRING,
    "attempts": _null(INTEGER), "expire_at": _null(MILLIS),
})

EMAIL_ADDRESS = _object({
    "id": STRING, "object": _const("email_address"), "email_address": STRING,
    "reserved": BOOLEAN, "verification": {"oneOf": [_VERIFICATION, {"type": "null"}]},
    "linked_to": OBJECTS, "matches_sso_connection": BOOLEAN,
    "created_at": MILLIS, "updated_at": MILLIS,
})

EXTERNAL_ACCOUNT = _object({
    "object": _const("external_account"), "id": STRING, "provider": STRING,
    "identification_id": STRING, "provider_user_id": STRING, "approved_scopes": STRING,
    "email_address": STRING, "email_address_verified": _null(BOOLEAN),
    "first_name": STRING, "last_name": STRING, "avatar_url": STRING,
    "image_url": _null(STRING), "username": _null(STRING), "phone_number": _null(STRING),
    "public_metadata": METADATA, "label": _null(STRING), "verification": _VERIFICATION,
    "created_at": MILLIS, "updated_at": MILLIS,
})

USER = _object({
    "id": STRING, "object": _const("user"), "external_id": _null(STRING),
    "primary_email_address_id": _null(STRING), "primary_phone_number_id": _null(STRING),
    "primary_web3_wallet_id": _null(STRING), "username": _null(STRING),
    "first_name": _null(STRING), "last_name": _null(STRING), "locale": _null(STRING),
    "image_url": STRING, "has_image": BOOLEAN,
    "public_metadata": METADATA, "private_metadata": METADATA, "unsafe_metadata": METADATA,
    "email_addresses": {"type": "array", "items": _ref("EmailAddress")},
    "phone_numbers": OBJECTS, "web3_wallets": OBJECTS, "passkeys": OBJECTS,
    "external_accounts": {"type": "array", "items": _ref("ExternalAccount")},
    "saml_accounts": OBJECTS, "enterprise_accounts": OBJECTS,
    "password_enabled": BOOLEAN, "two_factor_enabled": BOOLEAN, "totp_enabled": BOOLEAN,
    "backup_code_enabled": BOOLEAN, "mfa_enabled_at": _null(MILLIS),
    "mfa_disabled_at": _null(MILLIS), "password_last_updated_at": _null(MILLIS),
    "banned": BOOLEAN, "locked": BOOLEAN, "lockout_expires_in_seconds": _null(INTEGER),
    "verification_attempts_remaining": _null(INTEGER), "deprovisioned": BOOLEAN,
    "last_sign_in_at": _null(MILLIS), "last_active_at": _null(MILLIS),
    "legal_accepted_at": _null(MILLIS), "delete_self_enabled": BOOLEAN,
    "create_organization_enabled": BOOLEAN, "create_organizations_limit": _null(INTEGER),
    "bypass_client_trust": BOOLEAN, "created_at": MILLIS, "updated_at": MILLIS,
})

ORGANIZATION = _object({
    "object": _const("organization"), "id": STRING, "name": STRING, "slug": STRING,
    "image_url": STRING, "has_image": BOOLEAN,
    # Counted in lists and single reads; null inside a membership's organization.
    "members_count": _null(INTEGER), "pending_invitations_count": _null(INTEGER),
    "max_allowed_memberships": {"type": "integer", "minimum": 0,
                                "description": "0: no limit."},
    "admin_delete_enabled": BOOLEAN,
    "public_metadata": METADATA, "private_metadata": METADATA,
    "created_by": _null(STRING), "created_at": MILLIS, "updated_at": MILLIS,
    "role_set_key": _null(STRING),
})

MEMBERSHIP = _object({
    "object": _const("organization_membership"), "id": STRING, "role": STRING,
    "role_name": STRING, "permissions": STRINGS,
    "public_metadata": METADATA, "private_metadata": METADATA,
    "organization": _ref("Organization"),
    "public_user_data": _object({
        "user_id": STRING, "first_name": _null(STRING), "last_name": _null(STRING),
        "profile_image_url": STRING, "image_url": STRING, "has_image": BOOLEAN,
        "identifier": STRING, "username": _null(STRING), "banned": BOOLEAN,
    }),
    "created_at": MILLIS, "updated_at": MILLIS,
})

ORGANIZATION_INVITATION = _object({
    "object": _const("organization_invitation"), "id": STRING, "email_address": STRING,
    "role": STRING, "role_name": STRING, "organization_id": STRING,
    "inviter_id": _null(STRING), "status": {"type": "string", "enum": INVITATION_STATUSES},
    "public_metadata": METADATA, "private_metadata": METADATA, "url": _null(STRING),
    "expires_at": MILLIS, "created_at": MILLIS, "updated_at": MILLIS,
})

INVITATION = _object({
    "object": _const("invitation"), "id": STRING, "email_address": STRING,
    "public_metadata": METADATA, "revoked": BOOLEAN,
    "status": {"type": "string", "enum": INVITATION_STATUSES}, "url": _null(STRING),
    "expires_at": MILLIS, "created_at": MILLIS, "updated_at": MILLIS,
})

WAITLIST_ENTRY = _object({
    "object": _const("waitlist_entry"), "id": STRING, "email_address": STRING,
    "status": {"type": "string", "enum": list(WAITLIST_STATUSES)}, "is_locked": BOOLEAN,
    "invitation": {"oneOf": [_ref("Invitation"), {"type": "null"}]},
    "created_at": MILLIS, "updated_at": MILLIS,
})

TOKEN = _object({"object": _const("token"), "jwt": STRING})
HANDSHAKE_PAYLOAD = _object({"directives": STRINGS, "token": STRING})
ACTOR_TOKEN = _object({
    "object": _const("actor_token"), "id": STRING,
    "status": {"type": "string", "enum": ["pending", "accepted", "revoked"]},
    "user_id": STRING, "actor": OBJECT, "token": STRING, "url": STRING,
    "created_at": MILLIS, "updated_at": MILLIS,
}, optional=("token", "url"))

SESSION = _object({
    "object": _const("session"), "id": STRING, "user_id": STRING, "client_id": STRING,
    "actor": _null(OBJECT), "status": {"type": "string", "enum": sorted(SESSION_STATUSES)},
    "last_active_organization_id": _null(STRING), "last_active_at": MILLIS,
    "latest_activity": _null(OBJECT), "expire_at": MILLIS, "abandon_at": MILLIS,
    "created_at": MILLIS, "updated_at": MILLIS,
    "tasks": {"type": ["array", "null"], "items": OBJECT},
})

DELETED_OBJECT = _object({
    "object": STRING, "id": STRING, "deleted": {"type": "boolean", "const": True},
    "slug": STRING, "external_id": _null(STRING),
}, optional=("slug", "external_id"))

ERRORS = _object({
    "errors": {"type": "array", "minItems": 1, "items": _object({
        "code": STRING, "message": STRING, "long_message": STRING,
        "meta": {"type": "object", "properties": {"param_name": STRING}},
    })},
    "clerk_trace_id": STRING,
})


def _page(item: str) -> Schema:
    """Clerk's paginated list: ``{data, total_count}``."""
    return _object({"data": {"type": "array", "items": _ref(item)},
                    "total_count": {"type": "integer", "minimum": 0}})


SCHEMAS: dict[str, Schema] = {
    "User": USER, "EmailAddress": EMAIL_ADDRESS, "Organization": ORGANIZATION,
    "OrganizationMembership": MEMBERSHIP, "OrganizationInvitation": ORGANIZATION_INVITATION,
    "Invitation": INVITATION, "Session": SESSION, "DeletedObject": DELETED_OBJECT,
    "ExternalAccount": EXTERNAL_ACCOUNT, "ActorToken": ACTOR_TOKEN,
    "TotalCount": _object({"object": _const("total_count"), "total_count": INTEGER}),
    "Organizations": _page("Organization"),
    "OrganizationMemberships": _page("OrganizationMembership"),
    "OrganizationInvitations": _page("OrganizationInvitation"),
    "WaitlistEntry": WAITLIST_ENTRY, "WaitlistEntries": _page("WaitlistEntry"),
    "ClerkErrors": ERRORS,
}


# --- Parameters ------------------------------------------------------------------------


def _path(name: str, example: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1}, "example": example}


def _query(name: str, schema: Schema, description: str | None = None) -> Schema:
    # An empty value (``?limit=``) is read as no value, as :mod:`.params` does.
    parameter: Schema = {"name": name, "in": "query", "required": False, "schema": schema,
                         "allowEmptyValue": True}
    if schema.get("type") == "array":
        parameter.update(style="form", explode=True)
    if description:
        parameter["description"] = description
    return parameter


def _order_by(*names: str) -> Schema:
    return {"type": "string", "pattern": rf"^[+-]?({'|'.join(names)})$",
            "description": "A field, with - for descending order (the default) or +."}


PARAMETERS: dict[str, Schema] = {
    "UserId": _path("user_id", "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "A user's id."),
    "MemberUserId": _path("user_id", "user_2NNEqL2nrIRdJ194ndJqAHwEfxC",
                          "The member's user id."),
    "OrganizationId": _path("organization_id", "org_2NNEqL2nrIRdJ194ndJqAHwEfxC",
                            "An organization's id."),
    "SessionId": _path("session_id", "sess_2NNEqL2nrIRdJ194ndJqAHwEfxC", "A session's id."),
    "InvitationId": _path("invitation_id", "inv_2NNEqL2nrIRdJ194ndJqAHwEfxC",
                          "An invitation's id."),
    "OrganizationInvitationId": _path("invitation_id", "orginv_2NNEqL2nrIRdJ194ndJqAHwEfxC",
                                      "An organization invitation's id."),
    "WaitlistEntryId": _path("waitlist_entry_id", "wle_2NNEqL2nrIRdJ194ndJqAHwEfxC",
                             "A waitlist entry's id."),
    "Limit": _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                              "default": 10}),
    "Offset": _query("offset", {"type": "integer", "minimum": 0, "maximum": 2**31 - 1,
                                "default": 0}),
    "IdempotencyKey": {"name": "Idempotency-Key", "in": "header", "required": False,
                       "schema": {"type": "string", "maxLength": 255},
                       "description": "The first response to a POST with this key is "
                                      "replayed for 24 hours (Idempotent-Replayed: true)."},
}
PAGE = [_ref("Limit", "parameters"), _ref("Offset", "parameters")]

_MILLIS_QUERY: Schema = {"type": "integer", "minimum": 0, "maximum": 2**42}
USER_FILTERS = [
    *(_query(name, STRINGS) for name in ("user_id", "email_address", "external_id", "username",
                                         "organization_id")),
    _query("query", {"type": "string", "maxLength": 200},
           "Part of an id, external id, username, name or email address."),
    _query("banned", BOOLEAN),
    *(_query(name, _MILLIS_QUERY, "Unix time in milliseconds.") for name in (
        "created_at_before", "created_at_after", "last_active_at_before",
        "last_active_at_after", "last_active_at_since", "last_sign_in_at_before",
        "last_sign_in_at_after")),
]


# --- Request bodies ---------------------------------------------------------------------


def _body(properties: dict[str, Schema], *required: str) -> Schema:
    """A JSON object body; unknown keys are refused with 422 ``form_param_unknown``."""
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return {"required": bool(required),
            "content": {"application/json": {"schema": schema}}}


N_STRING, N_BOOLEAN, N_METADATA = _null(STRING), _null(BOOLEAN), _null(METADATA)
N_STRINGS: Schema = {"type": ["array", "null"], "items": STRING}
NAME: Schema = {"type": ["string", "null"], "maxLength": NAME_MAX}
EMAIL: Schema = {"type": "string", "format": "email"}
# null resets a user's metadata when creating or updating them; in the merges and the
# organization bodies it changes nothing.
USER_METADATA = {kind: N_METADATA for kind in ("public_metadata", "private_metadata",
                                               "unsafe_metadata")}
METADATA_FIELDS = {"public_metadata": N_METADATA, "private_metadata": N_METADATA}

CREATE_USER: dict[str, Schema] = {
    "external_id": {"type": ["string", "null"], "maxLength": EXTERNAL_ID_MAX},
    "first_name": NAME, "last_name": NAME,
    "locale": {"type": ["string", "null"], "maxLength": LOCALE_MAX},
    "email_address": {"type": ["array", "null"], "items": EMAIL},
    "email_address_identification_status": {"type": ["array", "null"],
                                            "items": _const("verified")},
    "phone_number": {"type": ["array", "null"], "items": STRING, "maxItems": 0},
    "phone_number_identification_status": N_STRINGS,
    "web3_wallet": {"type": ["array", "null"], "items": STRING, "maxItems": 0},
    "username": {"type": ["string", "null"],
                 "pattern": f"^[A-Za-z0-9_-]{{{USERNAME_MIN},{USERNAME_MAX}}}$"},
    "password": N_STRING, "password_digest": N_STRING, "password_hasher": N_STRING,
    "skip_password_checks": N_BOOLEAN, "skip_password_requirement": N_BOOLEAN,
    "totp_secret": N_STRING,
    "backup_codes": {"type": ["array", "null"], "items": STRING, "maxItems": 50},
    **USER_METADATA, "delete_self_enabled": N_BOOLEAN, "legal_accepted_at": DATE_TIME,
    "skip_legal_checks": N_BOOLEAN, "skip_user_requirement": N_BOOLEAN,
    "create_organization_enabled": N_BOOLEAN,
    "create_organizations_limit": {"type": ["integer", "null"], "minimum": 0},
    "created_at": DATE_TIME, "bypass_client_trust": N_BOOLEAN, "banned": N_BOOLEAN,
    "locked": N_BOOLEAN,
}

UPDATE_USER: dict[str, Schema] = {
    "first_name": NAME, "last_name": NAME, "username": CREATE_USER["username"],
    "external_id": CREATE_USER["external_id"], **USER_METADATA,
    "created_at": DATE_TIME, "primary_email_address_id": N_STRING,
    "notify_primary_email_address_changed": N_BOOLEAN, "password": N_STRING,
    "skip_password_checks": N_BOOLEAN, "sign_out_of_other_sessions": N_BOOLEAN,
    "password_digest": N_STRING, "password_hasher": N_STRING,
}

ORGANIZATION_FIELDS: dict[str, Schema] = {
    "slug": N_STRING, "max_allowed_memberships": {"type": ["integer", "null"], "minimum": 0,
                                                 "maximum": MAX_MEMBERSHIPS},
    "admin_delete_enabled": N_BOOLEAN, **METADATA_FIELDS,
}


# --- Operations -------------------------------------------------------------------------

ERROR_STATUSES = {"400": "The request body is not a JSON object, or the request is invalid.",
                  "401": "The secret key is missing or wrong.",
                  "403": "The requesting user may not do this.",
                  "404": "No such object.",
                  "409": "A request with this Idempotency-Key is still running.",
                  "422": "A parameter is unknown, missing or invalid.",
                  "429": "Too many requests (see Retry-After)."}


def _operation(operation_id: str, summary: str, result: Schema, *errors: int,
               parameters: list[Schema] | None = None, body: Schema | None = None) -> Schema:
    operation: Schema = {"operationId": operation_id, "summary": summary,
                         "responses": {"200": {"description": "Success.", "content": {
                             "application/json": {"schema": result}}}}}
    statuses = {401, 429, *errors}
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
        statuses |= {400, 422}
    for status in sorted(statuses):
        operation["responses"][str(status)] = _ref(str(status), "responses")
    return operation


def _post(operation_id: str, summary: str, result: Schema, *errors: int,
          parameters: list[Schema] | None = None, body: Schema | None = None) -> Schema:
    """A POST: takes an Idempotency-Key, and an empty or ``{}`` body when ``body`` is None."""
    return _operation(operation_id, summary, result, 400, 409, 422, *errors, body=body,
                      parameters=[*(parameters or []), _ref("IdempotencyKey", "parameters")])


def _array(item: str) -> Schema:
    return {"type": "array", "items": _ref(item)}


USER_ID, ORG_ID = _ref("UserId", "parameters"), _ref("OrganizationId", "parameters")
USER_REF, ORG_REF = _ref("User"), _ref("Organization")
MEMBERSHIP_REF, ORG_INVITATION_REF = _ref("OrganizationMembership"), _ref("OrganizationInvitation")
STATUS = {"type": "string", "enum": INVITATION_STATUSES}
USER_ID_RESULT = _object({"user_id": STRING})


def _user_paths() -> dict[str, Schema]:
    def flag(name: str, summary: str) -> Schema:
        return {"parameters": [USER_ID], "post": _post(f"{name}User", summary, USER_REF, 404)}

    return {
        "/users": {
            "get": _operation("GetUserList", "List users", _array("User"), 422, parameters=[
                *USER_FILTERS, *PAGE, _query("order_by", _order_by(*ORDERS))]),
            "post": _post("CreateUser", "Create a user", USER_REF, body=_body(CREATE_USER)),
        },
        "/users/count": {"get": _operation("GetUsersCount", "Count users", _ref("TotalCount"),
                                           422, parameters=USER_FILTERS)},
        "/users/{user_id}": {
            "parameters": [USER_ID],
            "get": _operation("GetUser", "Retrieve a user", USER_REF, 404),
            "patch": _operation("UpdateUser", "Update a user", USER_REF, 404,
                                body=_body(UPDATE_USER)),
            "delete": _operation("DeleteUser", "Delete a user", _ref("DeletedObject"), 404,
                                 422),
        },
        "/users/{user_id}/ban": flag("Ban", "Ban a user (revokes their sessions)"),
        "/users/{user_id}/unban": flag("Unban", "Lift a user's ban"),
        "/users/{user_id}/lock": flag("Lock", "Lock a user for the lockout duration"),
        "/users/{user_id}/unlock": flag("Unlock", "Unlock a user"),
        "/users/{user_id}/metadata": {"parameters": [USER_ID], "patch": _operation(
            "UpdateUserMetadata", "Merge into a user's metadata", USER_REF, 404,
            body=_body({**METADATA_FIELDS, "unsafe_metadata": N_METADATA}))},
        "/users/{user_id}/verify_password": {"parameters": [USER_ID], "post": _post(
            "VerifyPassword", "Check a user's password (failures count towards the lockout)",
            _object({"verified": BOOLEAN}), 403, 404,
            body=_body({"password": STRING}, "password"))},
        "/users/{user_id}/verify_totp": {"parameters": [USER_ID], "post": _post(
            "VerifyTOTP", "Check an authenticator-app or backup code (failures count towards "
            "the lockout)", _object({"verified": BOOLEAN, "code_type": {
                "type": "string", "enum": ["totp", "backup_code"]}}), 403, 404,
            body=_body({"code": STRING}, "code"))},
        "/users/{user_id}/mfa": {"parameters": [USER_ID], "delete": _operation(
            "DisableMFA", "Turn off a user's second factors", USER_ID_RESULT, 404)},
        "/users/{user_id}/totp": {"parameters": [USER_ID], "delete": _operation(
            "DeleteTOTP", "Remove a user's authenticator app (and its backup codes)",
            USER_ID_RESULT, 404)},
        "/users/{user_id}/backup_code": {"parameters": [USER_ID], "delete": _operation(
            "DeleteBackupCode", "Remove a user's backup codes", USER_ID_RESULT, 404)},
        "/users/{user_id}/passkeys/{passkey_id}": {
            "parameters": [USER_ID, {"name": "passkey_id", "in": "path", "required": True,
                                     "schema": STRING}],
            "delete": _operation("DeletePasskey", "Remove a user's passkey",
                                 _ref("DeletedObject"), 404)},
        "/users/{user_id}/external_accounts/{external_account_id}": {
            "parameters": [USER_ID, {"name": "external_account_id", "in": "path",
                                     "required": True, "schema": STRING}],
            "delete": _operation("DeleteExternalAccount", "Disconnect a user's provider account",
                                 _ref("DeletedObject"), 404)},
        "/users/{user_id}/organization_memberships": {"parameters": [USER_ID], "get": _operation(
            "UsersGetOrganizationMemberships", "List a user's memberships",
            _ref("OrganizationMemberships"), 404, 422, parameters=PAGE)},
    }


def _session_paths() -> dict[str, Schema]:
    session_id = _ref("SessionId", "parameters")
    return {
        "/sessions": {"get": _operation("GetSessionList", "List a user's or client's sessions",
                                        _array("Session"), 422, parameters=[
            _query("user_id", STRING), _query("client_id", STRING,
                                              "user_id or client_id is required."),
            _query("status", {"type": "string", "enum": sorted(SESSION_STATUSES)}),
            _query("paginated", STRING, "Accepted and ignored: the list is an array."),
            *PAGE])},
        "/sessions/{session_id}": {"parameters": [session_id], "get": _operation(
            "GetSession", "Retrieve a session", _ref("Session"), 404)},
        "/sessions/{session_id}/revoke": {"parameters": [session_id], "post": _post(
            "RevokeSession", "Revoke a session", _ref("Session"), 404)},
        "/sessions/{session_id}/active_organization": {"parameters": [session_id], "post": {
            **_post("SetActiveOrganization", "Switch a session's active organization",
                    TOKEN, 404, body=_body({"organization_id": N_STRING,
                                            "request_origin": N_STRING,
                                            "not_after": _null(INTEGER)})),
            "description": "flask_clerk's own (not in Clerk's API): for an app in remote "
                           "mode. null is the personal account. Answers the session's new "
                           "token, which carries the organization and expires no later "
                           "than not_after (unix seconds: the app's current token's exp).",
        }},
        "/clients/handshake_payload": {"get": _operation(
            "GetHandshakePayload", "Redeem a handshake answer", HANDSHAKE_PAYLOAD, 422,
            parameters=[{**_query("nonce", STRING, "The __clerk_handshake_nonce of the "
                                  "app's URL."), "required": True}])},
        "/invitations": {
            "get": _operation("ListInvitations", "List invitations", _array("Invitation"), 422,
                              parameters=[*PAGE, _query("status", STATUS),
                                          _query("query", STRING, "Accepted and ignored."),
                                          _query("order_by", STRING, "Accepted and ignored.")]),
            "post": _post("CreateInvitation", "Invite someone to sign up", _ref("Invitation"),
                          body=_body({"email_address": EMAIL, "public_metadata": N_METADATA,
                                      "notify": N_BOOLEAN, "ignore_existing": N_BOOLEAN,
                                      "expires_in_days": {"type": ["integer", "null"],
                                                          "minimum": 1, "maximum": 365}},
                                     "email_address")),
        },
        "/invitations/{invitation_id}/revoke": {
            "parameters": [_ref("InvitationId", "parameters")],
            "post": _post("RevokeInvitation", "Revoke an invitation", _ref("Invitation"), 404)},
        "/actor_tokens": {"post": _post(
            "CreateActorToken", "Create an actor token (impersonation)", _ref("ActorToken"), 404,
            body=_body({"user_id": STRING, "actor": {"type": "object", "required": ["sub"],
                                                    "properties": {"sub": STRING}},
                        "expires_in_seconds": {"type": ["integer", "null"], "minimum": 1},
                        "session_max_duration_in_seconds": {"type": ["integer", "null"],
                                                            "minimum": 60}},
                       "user_id", "actor"))},
        "/actor_tokens/{actor_token_id}/revoke": {
            "parameters": [{"name": "actor_token_id", "in": "path", "required": True,
                            "schema": STRING}],
            "post": _post("RevokeActorToken", "Revoke an actor token", _ref("ActorToken"), 404)},
    }


def _organization_paths() -> dict[str, Schema]:
    member_id = _ref("MemberUserId", "parameters")
    membership_body = _body(METADATA_FIELDS)
    return {
        "/organizations": {
            "get": _operation("ListOrganizations", "List organizations",
                              _ref("Organizations"), 422, parameters=[
                *PAGE, _query("query", STRING, "Part of a name or slug, or an id."),
                _query("order_by", _order_by("created_at", "name")),
                _query("include_members_count", BOOLEAN, "The counts are always included."),
                _query("organization_id", STRINGS)]),
            "post": _post("CreateOrganization", "Create an organization", ORG_REF, 404,
                          body=_body({"name": STRING, "created_by": N_STRING,
                                      **ORGANIZATION_FIELDS}, "name")),
        },
        "/organizations/{organization_id}": {
            "parameters": [ORG_ID],
            "get": _operation("GetOrganization", "Retrieve an organization", ORG_REF, 404, 422,
                              parameters=[_query("include_members_count", STRING,
                                                 "Accepted and ignored: always counted.")]),
            "patch": _operation("UpdateOrganization", "Update an organization", ORG_REF, 404,
                                body=_body({"name": N_STRING, **ORGANIZATION_FIELDS})),
            "delete": _operation("DeleteOrganization", "Delete an organization",
                                 _ref("DeletedObject"), 404, 422),
        },
        "/organizations/{organization_id}/metadata": {"parameters": [ORG_ID], "patch": _operation(
            "MergeOrganizationMetadata", "Merge into an organization's metadata", ORG_REF, 404,
            body=_body(METADATA_FIELDS))},
        "/organizations/{organization_id}/memberships": {
            "parameters": [ORG_ID],
            "get": _operation("ListOrganizationMemberships", "List an organization's members",
                              _ref("OrganizationMemberships"), 404, 422, parameters=[
                *PAGE, _query("order_by", STRING, "Accepted and ignored: oldest first."),
                _query("role", STRINGS), _query("user_id", STRINGS)]),
            "post": _post("CreateOrganizationMembership", "Add a member", MEMBERSHIP_REF, 404,
                          body=_body({"user_id": STRING, "role": STRING, **METADATA_FIELDS},
                                     "user_id", "role")),
        },
        "/organizations/{organization_id}/memberships/{user_id}": {
            "parameters": [ORG_ID, member_id],
            "patch": _operation("UpdateOrganizationMembership", "Change a member's role",
                                MEMBERSHIP_REF, 404, body=_body({"role": STRING}, "role")),
            "delete": _operation("DeleteOrganizationMembership", "Remove a member",
                                 MEMBERSHIP_REF, 404, 422),
        },
        "/organizations/{organization_id}/memberships/{user_id}/metadata": {
            "parameters": [ORG_ID, member_id],
            "patch": _operation("UpdateOrganizationMembershipMetadata",
                                "Merge into a membership's metadata", MEMBERSHIP_REF, 404,
                                body=membership_body)},
        "/organizations/{organization_id}/invitations": {
            "parameters": [ORG_ID],
            "get": _operation("ListOrganizationInvitations", "List an organization's invitations",
                              _ref("OrganizationInvitations"), 404, 422, parameters=[
                *PAGE, _query("status", {"type": "array", "items": STATUS}),
                _query("order_by", STRING, "Accepted and ignored: newest first.")]),
            "post": _post("CreateOrganizationInvitation", "Invite someone to an organization",
                          ORG_INVITATION_REF, 403, 404, body=_body({
                              "email_address": EMAIL, "role": STRING,
                              "inviter_user_id": N_STRING, **METADATA_FIELDS},
                              "email_address", "role")),
        },
        "/organizations/{organization_id}/invitations/{invitation_id}/revoke": {
            "parameters": [ORG_ID, _ref("OrganizationInvitationId", "parameters")],
            "post": _post("RevokeOrganizationInvitation", "Revoke an organization invitation",
                          ORG_INVITATION_REF, 403, 404,
                          body=_body({"requesting_user_id": N_STRING}))},
    }


def _waitlist_paths() -> dict[str, Schema]:
    entry_id, entry = _ref("WaitlistEntryId", "parameters"), _ref("WaitlistEntry")
    return {
        "/waitlist_entries": {
            "get": _operation("ListWaitlistEntries", "List waitlist entries",
                              _ref("WaitlistEntries"), 422, parameters=[
                *PAGE, _query("query", {"type": "string", "maxLength": 200},
                              "Part of an email address, or an id."),
                _query("status", {"type": "string", "enum": list(WAITLIST_STATUSES)}),
                _query("order_by", _order_by(*WAITLIST_ORDERS))]),
            "post": _post("CreateWaitlistEntry",
                          "Add someone to the waitlist (an address already on it: its entry)",
                          entry, body=_body({"email_address": EMAIL, "notify": N_BOOLEAN},
                                            "email_address")),
        },
        "/waitlist_entries/{waitlist_entry_id}": {"parameters": [entry_id], "delete": _operation(
            "DeleteWaitlistEntry", "Delete a waitlist entry", _ref("DeletedObject"), 404)},
        "/waitlist_entries/{waitlist_entry_id}/invite": {"parameters": [entry_id], "post": _post(
            "InviteWaitlistEntry", "Invite a waitlist entry to sign up (mails the invitation)",
            entry, 404, body=_body({"ignore_existing": N_BOOLEAN}))},
        "/waitlist_entries/{waitlist_entry_id}/reject": {"parameters": [entry_id], "post": _post(
            "RejectWaitlistEntry", "Reject a waitlist entry (revokes its pending invitation)",
            entry, 404)},
    }


def _public_paths() -> dict[str, Schema]:
    def public(operation_id: str, summary: str, result: Schema) -> Schema:
        return {"get": {"operationId": operation_id, "summary": summary, "security": [],
                        "responses": {"200": {"description": "Success.", "content": {
                            "application/json": {"schema": result}}}}}}

    return {
        "/jwks": public("GetJWKS", "The public keys that verify session tokens",
                        _object({"keys": OBJECTS})),
        "/openapi.json": public("GetOpenAPI", "This document", OBJECT),
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``/v1``, as a fresh dict."""
    try:
        package_version = version("flask-clerk")
    except PackageNotFoundError:  # running from a source tree
        package_version = "0"
    return copy.deepcopy({
        "openapi": "3.1.0",
        "info": {"title": "flask_clerk Backend API", "version": package_version,
                 "description": "Clerk's Backend API, served by flask_clerk. Authenticate "
                                "with Authorization: Bearer <CLERK_SECRET_KEY>."},
        "servers": [{"url": "/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": {**_user_paths(), **_session_paths(),
                  **_organization_paths(), **_waitlist_paths(), **_public_paths()},
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "The instance's secret key."}},
            "schemas": SCHEMAS,
            "parameters": PARAMETERS,
            "responses": {status: {"description": text, "content": {
                "application/json": {"schema": _ref("ClerkErrors")}}}
                for status, text in ERROR_STATUSES.items()},
        },
    })


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return json_response(openapi_document())
