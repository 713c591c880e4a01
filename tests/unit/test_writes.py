"""Write rules and requests without PostgreSQL or HTTP: writing/requests.py (pure) and the parts of
writing/statement.py that decide (statement numbering, conflicts, resends, scan memory) with a scripted client."""
import datetime as dt

import pytest

from intercom_fdw.custom_fields import column_from_options
from intercom_fdw.errors import ApiRejectedError, InvalidValueError, ServerError, TransportError, \
    UnsupportedOperationError
from intercom_fdw.objects import SPECS
from intercom_fdw.writing.requests import TableWrites, json_value
from intercom_fdw.writing import statement as statement_module
from intercom_fdw.writing.statement import ScanMemory, StatementWriter, WriteFailed


def table(name, extra=(), **options):
    spec = SPECS[name]
    return TableWrites(spec.with_columns(spec.columns + tuple(extra)), options)


def custom(name, attribute, data_type, pg_type, table="contacts"):
    fields = SPECS[table].custom_fields
    return column_from_options(name, pg_type, {fields.option: attribute, "data_type": data_type}, fields)


PLAN_TIER = custom("plan_tier", "plan_tier", "string", "text")
SEATS = custom("seats", "seats", "integer", "integer")


# --- values -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,value,expected", [
    ("integer", "8", 8), ("integer", 8, 8), ("float", "1.5", 1.5), ("boolean", "t", True), ("boolean", "f", False),
    ("unix", "2024-01-01 00:00:00+00", 1704067200), ("unix", "2024-01-01T01:00:00+01:00", 1704067200),
    ("unix", dt.date(2024, 1, 1), 1704067200), ("unix", dt.datetime(2024, 1, 1), 1704067200),
    ("json", '[{"id": "1"}]', [{"id": "1"}]), ("text", "x", "x"), ("text", None, None),
])
def test_sql_values_become_json_values(kind, value, expected):
    assert json_value(kind, value) == expected


def test_a_bad_value_names_the_column():
    with pytest.raises(InvalidValueError, match="row 3: invalid value 'many' for column seats"):
        table("contacts", (SEATS,)).insert_request({"email": "a@b.c", "seats": "many"}, 3)


# --- INSERT -------------------------------------------------------------------------------------------

def test_insert_body_maps_columns_and_custom_fields():
    request = table("contacts", (PLAN_TIER, SEATS)).insert_request(
        {"email": "a@b.c", "avatar_image_url": "http://i", "owner_id": "12", "signed_up_at": "2024-01-01 00:00:00+00",
         "plan_tier": "pro", "seats": 3, "name": None}, 1)
    assert (request.method, request.path) == ("POST", "/contacts")
    assert request.body == {"email": "a@b.c", "avatar": "http://i", "owner_id": 12, "signed_up_at": 1704067200,
                            "custom_attributes": {"plan_tier": "pro", "seats": 3}}


def test_insert_of_a_child_row_addresses_the_parent_and_injects_its_key():
    request = table("contact_tags").insert_request({"contact_id": "c/1", "id": "7"}, 1)
    assert (request.path, request.body, dict(request.inject)) == ("/contacts/c%2F1/tags", {"id": "7"},
                                                                   {"contact_id": "c/1"})


def test_conversation_insert_writes_from_and_reads_the_conversation_back():
    request = table("conversations").insert_request(
        {"source_author_type": "lead", "source_author_id": "c1", "source_body": "Hi"}, 1)
    assert request.body == {"from": {"type": "lead", "id": "c1"}, "body": "Hi"}
    assert request.result_id == "conversation_id"


def test_ticket_type_table_fills_ticket_type_and_ticket_attributes():
    severity = custom("affected", "affected users", "integer", "integer", "tickets")
    writes = table("tickets", (severity,), ticket_type_id="55")
    request = writes.insert_request({"contacts": '[{"id": "c1"}]', "title": "T", "affected": 3}, 1)
    assert request.body == {"ticket_type_id": "55", "contacts": [{"id": "c1"}],
                            "ticket_attributes": {"_default_title_": "T", "affected users": 3}}
    with pytest.raises(InvalidValueError, match="holds the tickets of ticket type 55"):
        writes.insert_request({"ticket_type_id": "56", "contacts": "[]"}, 1)


@pytest.mark.parametrize("name,values,message", [
    ("contacts", {"name": "x"}, "email or external_id must be set"),
    ("conversations", {"source_author_type": "admin", "source_author_id": "1", "source_body": "b"},
     "source_author_type is 'admin', not one of user, lead, contact"),
    ("conversations", {"source_author_type": "user", "source_body": "b"}, "source_author_id must be set"),
    ("conversations", {"source_author_type": "user", "source_author_id": "1"}, "source_body must be set"),
    ("data_attributes", {"name": "n", "model": "conversation", "data_type": "string"}, "not one of contact, company"),
    ("contact_subscriptions", {"contact_id": "c", "id": "1", "consent_type": "maybe"}, "not one of opt_in, opt_out"),
    ("companies", {"name": "no id"}, "company_id must be set"),
])
def test_rules(name, values, message):
    with pytest.raises(InvalidValueError, match=message) as caught:
        table(name).insert_request(values, 4)
    assert "row 4" in caught.value.message and caught.value.hint


def test_read_only_columns_are_named():
    listed = custom("severity", "severity", "list", "text", "tickets")
    for values, column in (({"email": "a@b.c", "created_at": "2024-01-01 00:00:00+00"}, "created_at"),
                           ({"email": "a@b.c", "attrs": "{}"}, "attrs")):
        with pytest.raises(InvalidValueError, match=f"column {column} "):
            table("contacts").insert_request(values, 1)
    with pytest.raises(InvalidValueError, match="column severity is read-only"):
        table("tickets", (listed,)).insert_request({"ticket_type_id": "1", "contacts": "[]", "severity": "x"}, 1)


def test_varchar_length_of_the_mapping_holds_whatever_the_declared_type():
    with pytest.raises(InvalidValueError, match="256 characters; Intercom's 'plan_tier' takes at most 255"):
        table("contacts", (PLAN_TIER,)).insert_request({"email": "a@b.c", "plan_tier": "x" * 256}, 1)
    long_note = custom("memo", "memo", "string", "text", "conversations")  # varchar(4000) for conversations
    table("conversations", (long_note,)).update_request("1", {"memo": "x" * 4000}, {"memo": None}, 1)


@pytest.mark.parametrize("name,operation", [("admins", "insert"), ("notes", "update"), ("conversations", "delete"),
                                            ("contact_tags", "update")])
def test_unsupported_operations_say_what_is_allowed(name, operation):
    with pytest.raises(UnsupportedOperationError, match="not supported by the Intercom API") as caught:
        table(name).operation(operation)
    assert "allows" in caught.value.hint


# --- UPDATE / DELETE ------------------------------------------------------------------------------------

OLD_CONTACT = {"id": "c1", "email": "a@b.c", "name": "A", "created_at": "2024-01-01T00:00:00+00:00",
               "unsubscribed_from_emails": False, "plan_tier": "pro", "seats": 2, "attrs": '{"id":"c1","x":1}'}


def test_update_sends_only_changed_columns_comparing_multicorn_forms_with_shaped_ones():
    new = {**OLD_CONTACT, "created_at": "2024-01-01 00:00:00+00", "unsubscribed_from_emails": "f",
           "attrs": '{"x": 1, "id": "c1"}', "seats": "3", "name": "B"}
    request = table("contacts", (PLAN_TIER, SEATS)).update_request("c1", new, OLD_CONTACT, 1)
    assert (request.method, request.path, request.body) == ("PUT", "/contacts/c1",
                                                            {"name": "B", "custom_attributes": {"seats": 3}})


def test_update_without_change_is_no_request():
    assert table("contacts", (PLAN_TIER, SEATS)).update_request("c1", dict(OLD_CONTACT), OLD_CONTACT, 1) is None


def test_update_of_a_read_only_column_is_refused():
    with pytest.raises(InvalidValueError, match="column created_at cannot be set by Intercom's API on UPDATE"):
        table("contacts").update_request("c1", {**OLD_CONTACT, "created_at": "2020-01-01 00:00:00+00"},
                                         OLD_CONTACT, 1)


def test_tag_rename_always_names_the_tag():
    request = table("tags").update_request("9", {"id": "9", "name": "new"}, {"id": "9", "name": "old"}, 1)
    assert (request.method, request.path, request.body) == ("POST", "/tags", {"id": "9", "name": "new"})
    assert not request.creates, "a POST that renames creates nothing (a 409's hint depends on it)"


def test_only_an_insert_request_creates():
    contacts = table("contacts")
    assert contacts.insert_request({"email": "a@b.c"}, 1).creates
    assert not contacts.update_request("c1", {**OLD_CONTACT, "email": "d@e.f"}, OLD_CONTACT, 1).creates
    assert not contacts.upsert_request("c1", {"email": "a@b.c"}, 1).creates
    assert not contacts.delete_request("c1", {}, 1).creates


def test_child_delete_uses_the_parent_key_of_the_row():
    request = table("contact_companies").delete_request("co1", {"contact_id": "c1", "id": "co1"}, 1)
    assert (request.method, request.path, request.body) == ("DELETE", "/contacts/c1/companies/co1", None)


# --- the statement writer, with a scripted client ---------------------------------------------------------

class ScriptedClient:
    """Answers calls from a script: (method, path) -> list of answers (an exception or a dict)."""

    concurrency = 4
    max_retries = 3

    def __init__(self, script=None, default=None):
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.default = default
        self.sent = []

    def call(self, method, path, json=None, idempotent=None, allow_404=False):
        self.sent.append((method, path, json))
        answers = self.script.get((method, path))
        answer = answers.pop(0) if answers else (self.default(method, path, json) if self.default else {})
        if isinstance(answer, Exception):
            raise answer
        return answer

    def send(self, request):
        return self.call(request.method, request.path, json=request.body, idempotent=request.idempotent,
                         allow_404=request.allow_404)


def created(method, path, body):
    return {"type": "contact", "id": "id-" + body["email"], "email": body["email"], "created_at": 1704067200}


def writer(client, on_conflict="skip", name="contacts", concurrency=None):
    """A statement writer; concurrency 1 when the script's answers must meet the rows in order."""
    client.concurrency = concurrency or client.concurrency
    return StatementWriter(table(name), client, on_conflict, sleep=lambda s: None)


def conflict(existing):
    return ApiRejectedError(f"Intercom answered HTTP 409 to POST /contacts: conflict: A contact matching those "
                            f"details already exists with id={existing}", status=409, code="conflict")


def test_rows_are_numbered_across_batches_and_the_failure_names_row_k_and_what_was_written():
    def answer(method, path, body):
        if body["email"] == "r5@x.io":
            raise ApiRejectedError("Intercom answered HTTP 400 to POST /contacts: bad owner", status=400)
        return created(method, path, body)

    statement = writer(ScriptedClient(default=answer))
    rows = statement.insert([{"email": f"r{i}@x.io"} for i in (1, 2, 3)])
    assert [r["id"] for r in rows] == ["id-r1@x.io", "id-r2@x.io", "id-r3@x.io"]
    with pytest.raises(WriteFailed) as caught:
        statement.insert([{"email": f"r{i}@x.io"} for i in (4, 5)])
    assert caught.value.message == "INSERT on contacts, row 5: Intercom answered HTTP 400 to POST /contacts: bad owner"
    message, detail = caught.value.notice()
    assert message.startswith("4 row(s)") and "id-r1@x.io" in detail and "id-r4@x.io" in detail


def test_a_rule_broken_in_a_batch_sends_nothing_of_that_batch():
    client = ScriptedClient(default=created)
    with pytest.raises(WriteFailed, match="row 2: email or external_id must be set"):
        writer(client).insert([{"email": "ok@x.io"}, {"name": "nobody"}])
    assert client.sent == []


def existing_contact(method, path, body):
    """GET answers the existing object as Intercom holds it; PUT answers the updated one."""
    contact_id = path.rsplit("/", 1)[1]
    return {"id": contact_id, "email": "old@x.io", "name": "Old"} if method == "GET" else \
        {"id": contact_id, **body}


def test_by_default_an_existing_object_is_left_as_it_is_reported_and_the_statement_goes_on():
    client = ScriptedClient({("POST", "/contacts"): [created("POST", "/contacts", {"email": "new@x.io"}),
                                                     conflict("abc")]}, default=existing_contact)
    statement = writer(client, concurrency=1)
    rows = statement.insert([{"email": "new@x.io"}, {"email": "old@x.io", "name": "New"}])
    # RETURNING (insert one row at a time) gives the existing object as Intercom holds it
    assert [r["id"] for r in rows] == ["id-new@x.io", "abc"] and rows[1]["name"] == "Old"
    assert [s[:2] for s in client.sent] == [("POST", "/contacts"), ("POST", "/contacts"), ("GET", "/contacts/abc")]
    assert statement.written == ["id-new@x.io"]
    message, detail = statement.existing_notice()
    assert message == "1 row(s) already existed in Intercom as contacts and were left as they are"
    assert detail == "existing ids: abc"


def test_bulk_insert_skips_without_reading_the_existing_object():
    client = ScriptedClient({("POST", "/contacts"): [conflict("abc"), conflict("def")]}, default=existing_contact)
    statement = writer(client, concurrency=1)
    assert statement.insert([{"email": "a@x.io"}, {"email": "b@x.io"}], returning=False) == [{"id": "abc"},
                                                                                               {"id": "def"}]
    assert [s[0] for s in client.sent] == ["POST", "POST"] and statement.written_count == 0
    assert statement.existing_notice()[1] == "existing ids: abc, def"


def test_the_listed_existing_ids_are_bounded(monkeypatch):
    monkeypatch.setattr(statement_module, "LISTED_IDS", 2)
    statement = writer(ScriptedClient({("POST", "/contacts"): [conflict(f"c{i}") for i in range(5)]}), concurrency=1)
    statement.insert([{"email": f"{i}@x.io"} for i in range(5)], returning=False)
    assert statement.existing_notice() == ("5 row(s) already existed in Intercom as contacts and were left as "
                                           "they are", "existing ids: c0, c1, and 3 more")


def test_on_conflict_update_updates_the_existing_object_and_error_fails_the_statement():
    client = ScriptedClient({("POST", "/contacts"): [conflict("abc")]}, default=existing_contact)
    statement = writer(client, "update")
    row = statement.insert([{"email": "a@x.io", "name": "N"}])[0]
    assert row["id"] == "abc" and client.sent[-1] == ("PUT", "/contacts/abc", {"email": "a@x.io", "name": "N"})
    assert statement.existing_notice()[0] == ("1 row(s) already existed in Intercom as contacts and were updated "
                                              "(on_conflict 'update')")
    client = ScriptedClient({("POST", "/contacts"): [conflict("abc")]})
    with pytest.raises(WriteFailed, match=r"already holds this contacts object \(id abc\)") as caught:
        writer(client, "error").insert([{"email": "a@x.io"}])
    assert "on_conflict 'skip'" in caught.value.hint and len(client.sent) == 1


def test_a_failure_after_skipped_rows_reports_them_too():
    client = ScriptedClient({("POST", "/contacts"): [conflict("abc"), ApiRejectedError("bad owner", status=400)]})
    with pytest.raises(WriteFailed) as caught:
        writer(client, concurrency=1).insert([{"email": "a@x.io"}, {"email": "b@x.io"}], returning=False)
    assert caught.value.notices() == [("1 row(s) already existed in Intercom as contacts and were left as they are",
                                       "existing ids: abc")]


@pytest.mark.parametrize("on_conflict", ["skip", "error"])
@pytest.mark.parametrize("failure", [ServerError("503", status=503), TransportError("connection cut")])
def test_a_resend_that_finds_the_object_never_changes_it(failure, on_conflict):
    # The 409 of a resend may be the first attempt's object or one that existed before: no PUT.
    client = ScriptedClient({("POST", "/contacts"): [failure, conflict("first")]}, default=existing_contact)
    statement = writer(client, on_conflict)
    assert statement.insert([{"email": "a@x.io"}], returning=False) == [{"id": "first"}]
    assert [s[:2] for s in client.sent] == [("POST", "/contacts"), ("POST", "/contacts")]
    message, detail = statement.existing_notice()
    assert message.endswith("; 1 of them answered a create resent after a failed attempt, which may have "
                            "created them") and detail == "existing ids: first"


def test_with_on_conflict_update_a_resend_that_finds_the_object_updates_it():
    client = ScriptedClient({("POST", "/contacts"): [ServerError("503", status=503), conflict("first")]},
                            default=existing_contact)
    row = writer(client, "update").insert([{"email": "a@x.io"}])[0]
    assert row["id"] == "first"
    assert [s[:2] for s in client.sent] == [("POST", "/contacts"), ("POST", "/contacts"), ("PUT", "/contacts/first")]


def test_creates_without_a_conflict_rule_are_never_resent():
    client = ScriptedClient({("POST", "/conversations"): [ServerError("503", status=503)]})
    with pytest.raises(WriteFailed, match="row 1"):
        writer(client, name="conversations").insert(
            [{"source_author_type": "user", "source_author_id": "c", "source_body": "b"}])
    assert len(client.sent) == 1


def test_update_reads_old_values_by_id_when_the_scan_row_is_unknown():
    client = ScriptedClient({("GET", "/contacts/c1"): [{"id": "c1", "email": "a@b.c", "name": "A"}]},
                            default=lambda m, p, b: {"id": "c1", "email": "a@b.c", "name": b.get("name")})
    new = {name: None for name in SPECS["contacts"].column_names}
    new.update(id="c1", email="a@b.c", name="B")
    row = writer(client).update("c1", new, None)
    assert row["name"] == "B" and client.sent[-1] == ("PUT", "/contacts/c1", {"name": "B"})


def test_child_delete_without_a_known_parent_is_refused():
    with pytest.raises(WriteFailed, match="cannot tell which contact_id"):
        writer(ScriptedClient(), name="contact_tags").delete("7", None)


# --- scan memory ------------------------------------------------------------------------------------------

def test_scan_memory_gives_the_row_being_written_while_the_scan_runs():
    memory = ScanMemory(keys=("contact_id",))
    rows = memory.watch(iter([{"id": "7", "contact_id": "a"}, {"id": "7", "contact_id": "b"}]))
    next(rows)
    assert memory.row("7")["contact_id"] == "a"
    next(rows)
    assert memory.row("7")["contact_id"] == "b"


def test_scan_memory_refuses_to_guess_between_parents_after_the_scan():
    memory = ScanMemory(keys=("contact_id",))
    list(memory.watch(iter([{"id": "7", "contact_id": "a"}, {"id": "7", "contact_id": "b"},
                            {"id": "8", "contact_id": "a"}])))
    assert memory.row("7") is None and memory.row("8")["contact_id"] == "a"


def test_scan_memory_is_bounded():
    memory = ScanMemory(limit=2)
    list(memory.watch(iter([{"id": str(i)} for i in range(5)])))
    assert memory.row("0") is None and memory.row("4") == {"id": "4"}


def test_a_timestamp_in_another_datestyle_is_explained_not_called_read_only():
    new = {**OLD_CONTACT, "created_at": "Mon Jan 01 00:00:00 2024 UTC", "name": "B"}
    with pytest.raises(InvalidValueError, match="cannot read the value of column created_at") as caught:
        table("contacts").update_request("c1", new, OLD_CONTACT, 1)
    assert "DateStyle" in caught.value.hint


def test_the_notice_lists_a_bounded_number_of_ids_and_counts_all():
    failed = WriteFailed("row 5", written=["a", "b"], written_count=5)
    assert failed.notice() == ("5 row(s) had already been written to Intercom and stay there (a remote write "
                               "cannot be rolled back)", "written ids: a, b, and 3 more")
    assert WriteFailed("row 1").notice() is None


# --- interrupted statements ----------------------------------------------------------------------------

def test_an_interrupted_insert_remembers_what_was_written_and_what_was_in_flight():
    from intercom_fdw.errors import Interrupted

    def answer(method, path, body):
        if body["email"] == "r3@x.io":
            raise Interrupted(in_flight=True)  # its request was abandoned: outcome unknown
        if body["email"] == "r4@x.io":
            raise Interrupted(in_flight=False)  # stopped before sending
        return created(method, path, body)

    for concurrency in (1, 4):
        statement = writer(ScriptedClient(default=answer), concurrency=concurrency)
        with pytest.raises(Interrupted):
            statement.insert([{"email": f"r{i}@x.io"} for i in range(1, 6)], returning=False)
        assert not statement.reported  # told at the rollback: a message now would meet the pending interrupt
        written, unknown = statement.stopped_notices()
        ids = written[1].removeprefix("written ids: ").split(", ")
        assert set(ids) <= {"id-r1@x.io", "id-r2@x.io", "id-r5@x.io"} and {"id-r1@x.io", "id-r2@x.io"} <= set(ids)
        assert unknown == ("1 request(s) were in flight (or sent without a usable answer) when the statement was "
                           "stopped: whether they reached "
                           "Intercom is unknown", "rows: 3")


def test_a_failed_row_is_reported_with_its_error_and_not_again_at_the_rollback():
    client = ScriptedClient({("POST", "/contacts"): [created("POST", "/contacts", {"email": "a@x.io"}),
                                                     ApiRejectedError("bad", status=400)]})
    statement = writer(client, concurrency=1)
    with pytest.raises(WriteFailed):
        statement.insert([{"email": "a@x.io"}, {"email": "b@x.io"}], returning=False)
    assert statement.reported


def test_a_write_request_is_the_api_request_the_client_sends():
    # one record for reads, writes and actions: the client's send() needs nothing else
    from intercom_fdw.api_request import ApiRequest
    request = table("contacts").delete_request("c1", {}, 1)
    assert isinstance(request, ApiRequest) and request.paging == "none"
    assert (request.method, request.path, request.allow_404) == ("DELETE", "/contacts/c1", True)
    create = table("contacts").insert_request({"email": "a@b.c"}, 1)
    assert create.idempotent is None and not create.allow_404  # a POST: HTTP semantics, no resend


def test_an_update_cannot_leave_a_contact_without_email_and_external_id():
    old = {"id": "c1", "email": "a@x.io", "external_id": "e1", "name": "A"}
    writes = table("contacts", ())
    with pytest.raises(InvalidValueError, match="email or external_id must be set"):
        writes.update_request("c1", {**old, "email": None, "external_id": None}, old, 1)
    assert writes.update_request("c1", {**old, "email": None}, old, 1) is not None  # external_id is left
    assert writes.update_request("c1", {**old, "name": "B"}, {**old, "email": None, "external_id": None}, 1) \
        is not None  # a contact Intercom holds without either (a lead) can still be renamed
