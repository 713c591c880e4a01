"""Bodies are parsed by orjson when it gives exactly what requests' own parser gives, else by that."""
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
])
def test_parsed_as_requests_parses_it(raw, charset):
    content_type = "application/json" + (f"; charset={charset}" if charset else "")
    with serve(lambda _request: Reply(body=raw, headers={"Content-Type": content_type})) as api:
        try:
            expected = requests.get(api.url + "/contacts", timeout=5).json()["data"]
        except ValueError:
            expected = errors.ServerError
        request = ApiRequest("GET", "/contacts", paging="unpaged")
        if expected is errors.ServerError:
            with pytest.raises(errors.ServerError, match="not JSON"):
                list(client_against(api).iter_items(request))
            return
        got = list(client_against(api).iter_items(request))
    assert repr(got) == repr(expected)
    assert [type(v) for item in got for v in item.values()] == [type(v) for item in expected for v in item.values()]
