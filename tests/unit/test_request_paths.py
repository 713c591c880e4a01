"""Ids become request path segments in one place (api_request.bind_path), for reads, writes and
actions; the client refuses any path an HTTP stack would rewrite."""
import pytest

from intercom_fdw import errors
from intercom_fdw.actions.definitions import ACTIONS
from intercom_fdw.api_request import UnaddressableId, bind_path, has_dot_segment
from intercom_fdw.objects import spec_for
from intercom_fdw.planning.plan import call_for
from intercom_fdw.writing.requests import TableWrites
from tests.unit.test_client_intercom_double import Reply, client_against, replies, serve


@pytest.mark.parametrize("value,segment", [
    ("123", "123"), ("a/b", "a%2Fb"), ("?x#y", "%3Fx%23y"), ("100%", "100%25"), ("...", "..."),
    (".x", ".x"), (" .. ", "%20..%20"), ("%2E%2E", "%252E%252E"), ("ü", "%C3%BC"), (42, "42"),
])
def test_values_become_one_encoded_segment(value, segment):
    assert bind_path("/contacts/{id}/tags", {"id": value}) == f"/contacts/{segment}/tags"


@pytest.mark.parametrize("value", ["..", ".", ""])
def test_dot_and_empty_ids_are_refused_with_the_name(value):
    with pytest.raises(UnaddressableId) as caught:
        bind_path("/contacts/{contact_id}/tags/{id}", {"contact_id": value, "id": "t1"})
    assert caught.value.name == "contact_id" and "not a valid contact_id" in caught.value.message
    assert caught.value.hint


def test_a_read_of_an_unaddressable_id_is_a_call_that_sends_nothing():
    endpoint = spec_for("contact_tags").list
    call = call_for(endpoint, {"contact_id": ".."}, allow_404=True)
    assert call.max_items == 0 and "not sent" in call.describe()
    with pytest.raises(UnaddressableId):
        call_for(endpoint, {"contact_id": ".."})  # only a read that a 404 would empty may read nothing


def test_a_write_names_the_row_and_column():
    writes = TableWrites(spec_for("contact_tags"), {})
    with pytest.raises(errors.InvalidValueError) as caught:
        writes.insert_request({"contact_id": "..", "id": "t1"}, 3)
    assert "row 3" in caught.value.message and "'..' is not a valid contact_id" in caught.value.message


def test_an_action_names_its_argument():
    action = next(a for a in ACTIONS if a.name == "remove_tag_from_conversation")
    with pytest.raises(errors.ConfigurationError) as caught:
        action.plan({"conversation_id": "..", "tag_id": "t1", "admin_id": "1"})
    assert "argument conversation_id" in caught.value.message


@pytest.mark.parametrize("path", ["/contacts/../tags", "/./tags", "/contacts/.."])
def test_the_client_refuses_a_path_with_dot_segments(path):
    assert has_dot_segment(path)
    with serve(replies(Reply(body={}))) as api:
        with pytest.raises(errors.ConfigurationError) as caught:
            client_against(api).call("DELETE", path)
        assert api.seen == []
    assert "'.' or '..' segment" in caught.value.message
