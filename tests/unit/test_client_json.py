"""Bodies are parsed by msgspec when it gives exactly what requests' own parser gives, else by that; a read
that names its fields (item_fields) gets exactly those of each item as a full parse gives them."""
import pytest
import requests

from intercom_fdw import errors
from intercom_fdw.client import ApiRequest
from tests.unit.test_client_intercom_double import Reply, client_against, serve

BIG = 123456789012345678901234567890


@pytest.mark.parametrize("raw, charset", [
    (b'{"data": [{"id": "1", "n": 1.5, "s": "\\u00e9t\\u00e9 \xc3\xa9", "z": null, "t": true}]}', None),
    (b'{"data": [{"n": %d, "m": -%d}]}' % (BIG, BIG), None),  # beyond 64 bits: exact ints
    (b'{"data": [{"n": 18446744073709551615, "m": -9223372036854775809}]}', None),
    (b'{"data": [{"k": 1e400}]}', None),
    (b'{"data": [{"n": NaN, "m": Infinity}]}', None),  # refused by orjson, taken by json
    (b'{"data": [{"s": "\\ud800"}]}', None),  # a lone surrogate
    (b'{"data": [{"s": "caf\xe9"}]}', "iso-8859-1"),  # a declared charset
    (b'{"data": [{"s": "caf\xc3\xa9"}]}', "iso-8859-1"),  # valid UTF-8, but declared otherwise
    (b'{"data": [{"s": "caf\xe9"}]}', None),  # not UTF-8: requests replaces the byte
    (b'\xef\xbb\xbf{"data": []}', None),  # a BOM: not JSON to requests either
    # an item only a full decode refuses, after one it decodes (a deferred page: decoding.deferred)
    (b'{"data": [{"id": "1", "s": "\xc3\xa9"}, {"s": "caf\xe9"}, {"id": "3"}]}', None),
    (b'{"data": [{"id": "1", "k": 1}, {"k": 1e400}, {"k": 2}]}', None),
    (b'{"data": [{"id": "1"}], "pages": {"next": null}, "total_count": 1}', None),
])
@pytest.mark.parametrize("fields", [None, frozenset({"n", "s", "absent"})], ids=["whole", "projected"])
def test_parsed_as_requests_parses_it(raw, charset, fields):
    content_type = "application/json" + (f"; charset={charset}" if charset else "")
    with serve(lambda _request: Reply(body=raw, headers={"Content-Type": content_type})) as api:
        try:
            expected = requests.get(api.url + "/contacts", timeout=5).json()["data"]
        except ValueError:
            expected = errors.ServerError
        request = ApiRequest("GET", "/contacts", paging="unpaged", item_fields=fields)
        if expected is errors.ServerError:
            with pytest.raises(errors.ServerError, match="not JSON"):
                list(client_against(api).iter_items(request))
            return
        got = list(client_against(api).iter_items(request))
    if fields is not None:  # each field asked for, as the whole parse gives it (None when absent)
        got = [{k: item.get(k) for k in sorted(fields)} for item in got]
        expected = [{k: item.get(k) for k in sorted(fields)} for item in expected]
    assert repr(got) == repr(expected)
    assert [type(v) for item in got for v in item.values()] == [type(v) for item in expected for v in item.values()]


def test_a_projected_read_keeps_the_rest_of_the_page_whole_and_pages_on():
    pages = [
        {"type": "list", "data": [{"id": "1", "n": {"deep": [1, 2]}, "drop": "x" * 50}],
         "pages": {"next": {"starting_after": "c2"}}, "total_count": 2},
        {"type": "list", "data": [{"id": "2", "n": None}], "pages": {}, "total_count": 2},
    ]

    def handler(request):
        return Reply(body=pages[1] if request.query.get("starting_after") == "c2" else pages[0])

    with serve(handler) as api:
        request = ApiRequest("GET", "/contacts", paging="cursor", item_fields=frozenset({"id", "n"}))
        got = list(client_against(api).iter_items(request))
    assert got == [{"id": "1", "n": {"deep": [1, 2]}}, {"id": "2", "n": None}]


@pytest.mark.parametrize("body", [
    {"data": ["a", "b"]},  # items that are not objects
    {"data": [{"id": "1"}, None]},
    {"data": {"id": "1"}},  # not a list
    [{"id": "1"}],  # not an object
])
def test_a_page_a_projection_cannot_read_is_read_whole(body):
    with serve(lambda _request: Reply(body=body)) as api:
        request = ApiRequest("GET", "/contacts", paging="unpaged", items_key="data" if isinstance(body, dict) else None,
                             item_fields=frozenset({"id"}))
        got = list(client_against(api).iter_items(request))
    assert got == (list(body["data"]) if isinstance(body, dict) else [body])  # as a whole parse gives it


@pytest.mark.parametrize("body", [
    b'{"type": "list", "data": [{"id": "1", "n": {"deep": [1, 2]}}, {"id": "2"}], "total_count": 2,'
    b' "pages": {"type": "pages", "next": {"starting_after": "x"}}}',  # a page of the usual keys: one pass
    b'{"pages": null, "data": [], "type": "list"}',  # another order, an empty list, a key null
    b'{"data": [{"a": 1}], "data": [{"b": 2}], "total_count": 1, "total_count": 2}',  # repeated keys: the last
    b'{"data": [{"a": 1}], "scroll_param": "s", "total_count": 1}',  # another key: two passes
    b'{"type": "list", "total_count": 0}',  # no items
    b'{"data": [1, "x", null, [2]], "type": "list"}',  # items that are not objects
    b' { "data" : [ { "id" : "1" } ] , "type" : "list" } ',  # blanks
])
@pytest.mark.parametrize("items_key", ["data", "type"])
def test_a_deferred_page_decodes_as_the_whole_body_does(body, items_key):
    """Both ways of splitting a page (decoding.deferred: one pass over a page of the usual keys, two
    otherwise) give what decoding the body whole gives, once the items are decoded."""
    from intercom_fdw.client import decoding

    whole = decoding.decode(body)
    try:
        page = decoding.deferred(items_key)(body)
    except decoding.MsgspecError:  # items that are not a list: the client then reads the body whole
        assert not isinstance(whole.get(items_key), list)
        return
    items = page.get(items_key)
    if items_key in whole:
        assert type(items) is decoding.DeferredItems
        page = {**page, items_key: list(decoding.decoded(items))}
    assert page == whole
