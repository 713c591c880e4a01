"""How the PL/Python edge reports failures: what PostgreSQL's ERROR gets (message, SQLSTATE, detail,
hint), with a stand-in for PL/Python's `plpy` module. The real module is exercised through
PostgreSQL in tests/integration/test_actions_sql.py."""
import pytest

from intercom_fdw.actions.plpython import run


class Raised:
    """What PL/Python reports of the exception the edge raised: its class's name (of module __main__:
    no module printed) before its message, and the sqlstate, detail and hint it reads from it."""

    def __init__(self, error):
        assert type(error).__module__ == "__main__", type(error).__module__
        self.message = f"{type(error).__name__}: {error}"
        self.fields = {k: getattr(error, k) for k in ("sqlstate", "detail", "hint") if hasattr(error, k)}


class StandInPlpy:
    """Only what `run` uses; `execute` fails with the given exception."""

    class Error(Exception):
        """plpy.Error"""

    def __init__(self, failure=None):
        self.failure = failure

    def execute(self, *args):
        raise self.failure


def report(plpy, name, args):
    with pytest.raises(StandInPlpy.Error) as caught:
        run(plpy, name, args)
    return Raised(caught.value)


def test_bad_argument_is_invalid_parameter_value_with_detail_and_hint():
    raised = report(StandInPlpy(), "assign_conversation", ["1", "bot", "2", "3", None])
    assert raised.message == (
        "intercom_fdw.assign_conversation(): argument type has invalid value 'bot'; valid values: admin, team")
    assert raised.fields == {
        "sqlstate": "22023",
        "detail": "the argument was checked before any request was sent to Intercom",
        "hint": "use one of: admin, team",
    }


def test_missing_detail_or_hint_is_left_out_rather_than_printed_as_none():
    from intercom_fdw.errors import ApiRejectedError
    raised = report(StandInPlpy(ApiRejectedError("refused")), "archive_contact", ["1", None])
    assert "hint" not in raised.fields and "detail" not in raised.fields


def test_an_unexpected_python_error_is_reported_with_its_place_and_without_secrets():
    failure = RuntimeError("connect failed: Authorization: Bearer tok_live_abcdef123456")
    raised = report(StandInPlpy(failure), "archive_contact", ["1", None])
    assert raised.message == "intercom_fdw.archive_contact(): internal error: RuntimeError: connect failed: " \
                             "Authorization: Bearer [secret]"
    assert raised.fields["sqlstate"] == "XX000"  # internal_error: a bug of ours
    assert "in execute" in raised.fields["detail"]  # the traceback's last frames say where
    assert "tok_live_abcdef123456" not in raised.fields["detail"]


def test_an_interrupt_before_the_request_is_sent_says_nothing_reached_intercom():
    # the client checks the backend's interrupt flags before it sends: a cancel then sends nothing
    from intercom_fdw.actions.definitions import ACTIONS_BY_NAME
    from intercom_fdw.actions.executor import execute
    from intercom_fdw.errors import CanceledError, sqlstate_of
    from intercom_fdw.options import FdwOptions

    action = ACTIONS_BY_NAME["archive_contact"]
    options = FdwOptions.parse({"api_url": "http://127.0.0.1:9", "access_token": "tok-unit-cancel"})
    with pytest.raises(CanceledError) as caught:
        execute(action, action.bind(["c1"]), options, interrupted=lambda: True)
    assert sqlstate_of(caught.value) == "57014"
    assert caught.value.detail == "intercom_fdw stopped waiting before the request was sent: nothing reached Intercom"


def test_a_cancel_met_by_the_edges_own_query_is_a_cancel_not_an_internal_error():
    # PL/Python raises spiexceptions.QueryCanceled (sqlstate 57014) from plpy.execute when a cancel or
    # statement_timeout comes while the edge reads the server and user mapping. It was reported as
    # "internal error: QueryCanceled: canceling statement due to user request" (XX000, HINT: a bug of
    # intercom_fdw): a cancel of SELECT archive_contact(c) FROM unnest(...) met it one time in three.
    class QueryCanceled(Exception):
        sqlstate = "57014"

    raised = report(StandInPlpy(QueryCanceled("canceling statement due to user request")), "archive_contact",
                    ["1", None])
    assert raised.message == "intercom_fdw.archive_contact(): canceling statement due to user request"
    assert raised.fields == {"sqlstate": "57014", "detail": "the statement was interrupted before the request was "
                                                            "sent: nothing reached Intercom"}
