"""The demo's pages: the seed's tutorial, step by step."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request
from werkzeug.wrappers import Response

from flask_clerk import (
    Auth,
    auth,
    current_user,
    login_required,
    org_role_required,
    permission_required,
)

from .models import Project, User, db

bp = Blueprint("demo", __name__)


@bp.get("/")
def landing() -> str:
    return render_template("landing.html")


@bp.get("/sign-in")
def sign_in() -> str:
    # The seed's pattern: the app owns the page, the component does the rest.
    return render_template("sign_in.html")


@bp.get("/sign-up")
def sign_up() -> str:
    return render_template("sign_up.html")


@bp.get("/sign-in/custom")
def custom_sign_in() -> str:
    # The same flows, built from Elements in the demo's own design.
    return render_template("custom/sign_in.html")


@bp.get("/sign-up/custom")
def custom_sign_up() -> str:
    return render_template("custom/sign_up.html")


@bp.get("/dashboard")
@login_required  # also covered by protect=["/dashboard(.*)"]; either is enough
def dashboard() -> str:
    current = auth()
    # Filled by the user.created webhook, a moment after sign-up.
    account = db.session.scalar(db.select(User).filter_by(clerk_id=current.user_id))
    projects = db.session.scalars(
        db.select(Project).filter_by(workspace_id=_workspace(current))
        .order_by(Project.created_at.desc(), Project.id.desc())
    ).all()
    return render_template("dashboard.html", account=account, auth=current, projects=projects)


def _workspace(current: Auth) -> str:
    """Whose projects: the active organization's, or the user's own."""
    workspace = current.org_id or current.user_id
    assert workspace is not None
    return workspace


def _may_create(current: Auth) -> bool:
    return current.org_id is None or current.has(permission="org:projects:create")


@bp.post("/projects")
@login_required
def create_project() -> Response:
    current = auth()
    if not _may_create(current):
        abort(403)
    name = " ".join(request.form.get("name", "").split())[:100]
    if name:  # the form requires one; an empty post changes nothing
        db.session.add(Project(workspace_id=_workspace(current), name=name,
                               created_by=current.user_id))
        db.session.commit()
    return redirect("/dashboard", 303)


@bp.post("/projects/<int:project_id>/delete")
@login_required
def delete_personal_project(project_id: int) -> Response:
    """In the personal workspace, the owner deletes."""
    if auth().org_id is not None:
        abort(404)
    return _delete(project_id)


@bp.post("/org/projects/<int:project_id>/delete")
@permission_required("org:projects:delete")  # a custom permission, from the token
def delete_org_project(project_id: int) -> Response:
    return _delete(project_id)


def _delete(project_id: int) -> Response:
    project = db.session.scalar(db.select(Project).filter_by(
        id=project_id, workspace_id=_workspace(auth())))  # another workspace's id: 404
    if project is None:
        abort(404)
    db.session.delete(project)
    db.session.commit()
    return redirect("/dashboard", 303)


@bp.get("/org/settings")
@org_role_required("org:admin")
def org_settings() -> str:
    return render_template("org_settings.html")


@bp.get("/api/me")
def api_me() -> Response:
    # /api/(.*) is protected by the extension: signed-out callers get 401 JSON.
    assert current_user is not None
    primary = current_user.primary_email_address
    return jsonify({"email": primary.email_address if primary else None,
                    "name": current_user.full_name})


@bp.get("/terms")
@bp.get("/privacy")
def legal() -> str:
    return render_template("legal.html")


@bp.get("/admin/synced-users")
@login_required
def synced_users() -> str:
    """The demo's own users table, as the webhooks keep it."""
    rows = db.session.scalars(db.select(User).order_by(User.id.desc())).all()
    return render_template("synced_users.html", rows=rows)
