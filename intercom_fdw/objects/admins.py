"""Admins, teams and the admins' activity logs."""
from intercom_fdw.spec import (
    Endpoint, ObjectSpec, Window, boolean, integer, jsonb, text, timestamp,
)

ADMINS = ObjectSpec(
    table="admins",
    columns=(
        text("id"), text("name"), text("email"), text("job_title"), boolean("away_mode_enabled"),
        boolean("away_mode_reassign"), text("away_status_reason_id"), boolean("has_inbox_seat"),
        jsonb("team_ids"), text("avatar"),
    ),
    list=Endpoint("GET", "/admins", "unpaged", "admins"),
    get=Endpoint("GET", "/admins/{id}", items_key=None),
    row_estimate=50,
)

TEAMS = ObjectSpec(
    table="teams",
    columns=(
        text("id"), text("name"), jsonb("admin_ids"), integer("assignment_limit"),
        text("distribution_method"),
    ),
    list=Endpoint("GET", "/teams", "unpaged", "teams"),
    get=Endpoint("GET", "/teams/{id}", items_key=None),
    row_estimate=20,
)

# created_at_after is required by the API; without a bound on created_at the scan reads a default
# window and EXPLAIN says so.
ACTIVITY_LOGS = ObjectSpec(
    table="activity_logs",
    columns=(
        text("id"), text("performed_by_id", "performed_by.id"), text("performed_by_type", "performed_by.type"),
        text("performed_by_email", "performed_by.email"), text("performed_by_ip", "performed_by.ip"),
        timestamp("created_at"), text("activity_type"), text("activity_description"), jsonb("metadata"),
    ),
    list=Endpoint("GET", "/admins/activity_logs", "next_url", "activity_logs"),
    window=Window("created_at", "created_at_after", "created_at_before"),
    row_estimate=1000,
)

SPECS = (ADMINS, TEAMS, ACTIVITY_LOGS)
