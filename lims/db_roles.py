"""Least privilege on PostgreSQL: the application's role beside the owner that migrates.

The owner (LIMS_MIGRATION_DATABASE_URL) creates the tables and the triggers that keep the
audit trail append-only. The application (LIMS_DATABASE_URL) connects as a role that owns
nothing, so it cannot alter, disable or drop a trigger or a table; on the audit events it
may only add and read, on the audit head only move it. No record is ever deleted by the
application, so the role may delete nothing except what is not a record: unsaved form
drafts and sign-in back-off counts. SQLite has no roles: there the file's
permissions are the only boundary.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# What the application may do on each table; every other table: read, add and change rows.
# Signatures and refused scans are written once and never changed by the application.
PRIVILEGES: dict[str, str] = {
    "audit_event": "SELECT, INSERT",
    "audit_head": "SELECT, UPDATE",
    "alembic_version": "SELECT",
    "signature": "SELECT, INSERT",
    "coi_event": "SELECT, INSERT",
    "review_acknowledgement": "SELECT, INSERT",
    # Kept only while they matter: a saved or abandoned draft and a back-off long over go.
    "form_draft": "SELECT, INSERT, UPDATE, DELETE",
    "signin_throttle": "SELECT, INSERT, UPDATE, DELETE",
}
DEFAULT_PRIVILEGES = "SELECT, INSERT, UPDATE"
# Rights on the audit events the application role must never hold.
_FORBIDDEN_ON_EVENTS = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")


class RoleRefused(RuntimeError):
    """The role cannot serve as the application's least-privileged role (the reason says why)."""


def grant_app_role(conn: Connection, role: str) -> list[str]:
    """Give `role` exactly the application's rights on every table of the current schema.

    Idempotent; run as the owner after every migration (`lims init` does when LIMS_APP_ROLE
    is set). Returns the tables granted. Never commits: the caller's transaction does.
    """
    _require_postgresql(conn)
    _refuse_unsuitable(conn, role)
    quote = conn.dialect.identifier_preparer.quote
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    tables = list(conn.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = :schema ORDER BY tablename"),
        {"schema": schema}).scalars())
    who, where = quote(role), quote(schema)
    conn.execute(text(f"GRANT USAGE ON SCHEMA {where} TO {who}"))
    conn.execute(text(f"REVOKE CREATE ON SCHEMA {where} FROM {who}"))
    for table in tables:
        name = f"{where}.{quote(table)}"
        conn.execute(text(f"REVOKE ALL ON {name} FROM {who}"))
        conn.execute(text(f"GRANT {PRIVILEGES.get(table, DEFAULT_PRIVILEGES)} ON {name} TO {who}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {who}"))
    return tables


def app_role_problems(conn: Connection, role: str) -> list[str]:
    """What, in the database as it stands, would let `role` rewrite the audit trail."""
    _require_postgresql(conn)
    problems = _unsuitable(conn, role)
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    if conn.execute(text("SELECT has_schema_privilege(:role, :schema, 'CREATE')"),
                    {"role": role, "schema": schema}).scalar_one():
        problems.append(f"role {role} may create objects in schema {schema}: revoke CREATE "
                        "(on PostgreSQL before 15 also from PUBLIC)")
    for right in _FORBIDDEN_ON_EVENTS:
        if conn.execute(text("SELECT has_table_privilege(:role, 'audit_event', :right)"),
                        {"role": role, "right": right}).scalar_one():
            problems.append(f"role {role} holds {right} on audit_event: run "
                            f"`lims db grant-app-role {role}` as the owner")
    return problems


def _refuse_unsuitable(conn: Connection, role: str) -> None:
    problems = _unsuitable(conn, role)
    if problems:
        raise RoleRefused("; ".join(problems))


def _unsuitable(conn: Connection, role: str) -> list[str]:
    found = conn.execute(text(
        "SELECT rolsuper OR rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = :role"),
        {"role": role}).one_or_none()
    if found is None:
        return [f"role {role} does not exist: create it first (CREATE ROLE {role} LOGIN "
                "PASSWORD '…')"]
    problems = []
    if found[0]:
        problems.append(f"role {role} is a superuser (or bypasses row security): the "
                        "application must connect as an ordinary role")
    if found[1]:
        problems.append(f"role {role} may create roles: the application must not")
    owner = conn.execute(text(
        "SELECT pg_has_role(:role, tableowner, 'MEMBER') FROM pg_tables "
        "WHERE tablename = 'audit_event' AND schemaname = current_schema()"),
        {"role": role}).scalar_one_or_none()
    if owner:
        problems.append(f"role {role} owns the tables (or is a member of their owner): the "
                        "application needs a role of its own")
    return problems


def _require_postgresql(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        raise RoleRefused("database roles exist on PostgreSQL only; on SQLite protect the "
                          "database file's permissions instead")
