"""What an action's error adds about the earlier calls of its statement (statement_calls.py): pure, no PostgreSQL.
Through PostgreSQL and the emulator: tests/integration/test_actions_per_row.py."""
from intercom_fdw.actions.definitions import ACTIONS_BY_NAME
from intercom_fdw.actions.statement_calls import LISTED_CALLS, StatementCalls, call_label
from intercom_fdw.pg_statement import statement_started


def label(n):
    return call_label(ACTIONS_BY_NAME["close_conversation"], {"conversation_id": str(n), "admin_id": "7"})


def test_a_call_is_labelled_by_its_action_and_the_argument_naming_its_object():
    assert label(215) == "close_conversation(conversation_id => '215')"
    assert call_label(ACTIONS_BY_NAME["submit_event"], {"event_name": "e", "id": "c1"}) == "submit_event(id => 'c1')"
    assert call_label(ACTIONS_BY_NAME["create_email_message"], {"to_id": "u9"}) == "create_email_message(to_id => 'u9')"


def test_nothing_is_added_when_no_earlier_call_reached_intercom():
    calls = StatementCalls()
    assert calls.begin("s1") == 1
    assert calls.reported(1, "failed", "why", "do this") == ("failed", "why", "do this")


def test_the_earlier_calls_are_counted_and_the_first_ones_listed():
    calls = StatementCalls()
    for n in range(1, LISTED_CALLS + 4):
        assert calls.begin("s1") == n
        calls.add_reached(label(n))
    assert calls.begin("s1") == LISTED_CALLS + 4
    message, detail, hint = calls.reported(LISTED_CALLS + 4, "failed", None, None)
    assert message == "failed (call 14 of the statement; 13 call(s) of it had already reached Intercom and stay there)"
    assert detail == "calls of it that reached Intercom: " + ", ".join(label(n) for n in range(1, 11)) + ", and 3 more"
    assert hint.startswith("the rollback undoes none of the calls that reached Intercom")


def test_calls_that_may_have_reached_intercom_are_told_apart():
    calls = StatementCalls()
    calls.begin("s1")
    calls.add_unsure(label(1))
    calls.begin("s1")
    calls.add_reached(label(2))
    calls.begin("s1")
    message, detail, hint = calls.reported(3, "failed", "404", "pass an id")
    assert message.endswith("(call 3 of the statement; 1 call(s) of it had already reached Intercom and stay "
                            "there, 1 more may have)")
    assert detail == (f"404; calls of it that reached Intercom: {label(2)}; calls of it that failed without a "
                      f"usable answer and may have reached Intercom: {label(1)}")
    assert hint.split("\n")[0] == "pass an id"


def test_a_new_statement_forgets_the_one_before_and_an_unknown_one_is_its_own():
    calls = StatementCalls()
    calls.begin("s1")
    calls.add_reached(label(1))
    assert calls.begin("s2") == 1
    assert calls.reported(1, "failed", None, None) == ("failed", None, None)
    calls.add_reached(label(2))
    assert calls.begin(None) == 1 and calls.begin(None) == 1
    assert calls.reached.count == 0


def test_outside_a_backend_no_statement_is_known():
    assert statement_started() is None


def test_a_statement_stopped_outside_any_call_is_told_once_and_only_when_no_error_told_it():
    calls = StatementCalls()
    calls.begin("s1")
    calls.add_reached(label(1))
    assert calls.untold("s2") is None  # another statement's rollback (a later ROLLBACK command)
    message, detail, hint = calls.untold("s1")
    assert message == ("the rollback undid nothing in Intercom: 1 action call(s) of the statement had already "
                       "reached Intercom and stay there")
    assert detail == f"calls of it that reached Intercom: {label(1)}"
    assert hint.startswith("the rollback undoes none")
    assert calls.untold("s1") is None  # said once, whichever table's rollback comes first
    calls.begin("s1")
    calls.reported(2, "failed", None, None)  # the action's error named them
    assert calls.untold("s1") is None
    calls.begin("s1")  # a handler caught that error and the statement went on: untold again
    assert calls.untold("s1")[0].startswith("the rollback undid nothing in Intercom: 1 action call(s)")
    assert calls.untold(None) is None
