"""One logical call against a scripted Intercom: headers, retries, 429, throttle, errors, secrets."""
import logging
import socket
import threading

import pytest

from intercom_fdw import __version__, errors
from intercom_fdw.client import ApiRequest, IntercomClient, api_base_url, client_for
from intercom_fdw.client import error_mapping
from intercom_fdw.client.http import FIRST_READS
from tests.unit.test_client_intercom_double import (
    TOKEN,
    FakeClock,
    Reply,
    client_against,
    error_list,
    replies,
    serve,
)

OK = Reply(body={"type": "contact", "id": "c1"})


def test_every_call_carries_auth_version_and_agent():
    with serve(replies(OK)) as api:
        client_against(api, api_version="2.14").call("GET", "/contacts/c1")
    headers = api.seen[0].headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Accept"] == "application/json"
    assert headers["Intercom-Version"] == "2.14"
    assert headers["User-Agent"] == f"intercom_fdw/{__version__}"


def test_a_netrc_entry_for_the_host_never_replaces_the_token(tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other-credential\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with serve(replies(OK)) as api:
        client_against(api).call("GET", "/contacts/c1")
    assert api.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_keep_alive_reuses_one_connection():
    with serve(replies(OK)) as api:
        client = client_against(api)
        for _ in range(5):
            client.call("GET", "/contacts/c1")
    assert len(api.seen) == 5
    assert len({r.peer for r in api.seen}) == 1


def test_call_returns_parsed_json_and_empty_dict_for_empty_bodies():
    with serve(replies(Reply(202, None))) as api:
        assert client_against(api).call("POST", "/events", json={"event_name": "x"}) == {}
    assert api.seen[0].body == {"event_name": "x"}


def test_429_waits_until_the_reset_then_retries():
    clock = FakeClock()
    reset = str(int(clock.now + 7))
    limited = Reply(429, error_list("rate_limit_exceeded", "Exceeded rate limit"), {"X-RateLimit-Reset": reset})
    with serve(replies(limited, OK)) as api:
        # a 429 is safe even for a create: Intercom did not process it
        assert client_against(api, clock).call("POST", "/contacts", json={"email": "a@b.c"})["id"] == "c1"
    assert len(api.seen) == 2
    assert clock.sleeps == [pytest.approx(7.0)]


def test_429_after_the_last_retry_is_a_rate_limited_error():
    clock = FakeClock()
    limited = Reply(429, error_list("rate_limit_exceeded", "Exceeded rate limit", "req-429"),
                    {"X-RateLimit-Reset": str(int(clock.now + 2))})
    with serve(replies(limited)) as api:
        with pytest.raises(errors.RateLimitedError) as caught:
            client_against(api, clock, max_retries=2).call("GET", "/contacts")
    error = caught.value
    assert len(api.seen) == 3
    assert (error.status, error.code, error.request_id) == (429, "rate_limit_exceeded", "req-429")
    assert error.hint == ("lower the server's rate_limit_share, concurrency or read_concurrency, or try later; "
                          "the workspace's limit is shared with every app and session")


def test_server_errors_are_retried_with_backoff_for_reads():
    clock = FakeClock()
    with serve(replies(Reply(503, "upstream down"), Reply(500, error_list("server_error", "oops")), OK)) as api:
        client = client_against(api, clock, backoff_base=0.5, backoff_cap=4)
        assert client.call("GET", "/contacts/c1")["id"] == "c1"
    assert len(api.seen) == 3 and client.calls_made == 3
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 0.5 and 0 <= clock.sleeps[1] <= 1.0


def test_a_create_is_never_resent_after_a_server_error():
    with serve(replies(Reply(500, error_list("server_error", "oops", "req-500")), OK)) as api:
        with pytest.raises(errors.ServerError) as caught:
            client_against(api).call("POST", "/contacts", json={"email": "a@b.c"})
    assert len(api.seen) == 1
    assert caught.value.status == 500 and caught.value.request_id == "req-500"


def test_a_create_is_never_resent_after_a_dropped_connection():
    with serve(replies(Reply(drop=True), OK)) as api:
        with pytest.raises(errors.TransportError) as caught:
            client_against(api).call("POST", "/contacts", json={"email": "a@b.c"})
    assert len(api.seen) == 1
    assert caught.value.hint == "check api_url/region and network"


def test_only_a_request_that_was_sent_may_have_reached_intercom():
    with serve(replies(Reply(drop=True))) as api:
        with pytest.raises(errors.TransportError) as dropped:
            client_against(api).call("POST", "/conversations", json={"body": "hi"})
    assert errors.may_have_reached_intercom(dropped.value)
    with serve(replies(OK)) as api:
        with pytest.raises(errors.TransportError, match="MalformedRequest") as unwritable:
            client_against(api).call("POST", "/conversations", json={"n": float("nan")})
    assert api.seen == [] and not errors.may_have_reached_intercom(unwritable.value)


def test_a_body_cut_short_is_retried_for_reads_only():
    cut = Reply(body={"data": [{"id": "c1"}]}, cut_short=True)
    with serve(replies(cut, OK)) as api:
        assert client_against(api).call("GET", "/contacts/c1")["id"] == "c1"
    assert len(api.seen) == 2
    with serve(replies(cut, OK)) as api:
        with pytest.raises(errors.TransportError, match="ChunkedEncodingError|IncompleteRead"):
            client_against(api).call("POST", "/contacts", json={"email": "a@b.c"})
    assert len(api.seen) == 1


def test_a_page_with_an_empty_body_is_retried_and_never_taken_as_the_end():
    page = {"type": "list", "data": [{"id": "c1"}], "pages": {}}
    with serve(replies(Reply(body=None), Reply(body=page))) as api:
        got = list(client_against(api).iter_items(ApiRequest("GET", "/contacts", paging="cursor")))
    assert got == [{"id": "c1"}] and len(api.seen) == 2
    with serve(replies(Reply(body=None))) as api:
        with pytest.raises(errors.ServerError, match="not JSON"):
            list(client_against(api, max_retries=2).iter_items(ApiRequest("GET", "/contacts", paging="cursor")))
    assert len(api.seen) == 3  # the attempt and its 2 retries


def test_a_search_post_is_retried():
    with serve(replies(Reply(drop=True), Reply(502, "bad gateway"), Reply(body={"data": [{"id": "c1"}], "pages": {}}))) as api:
        got = list(client_against(api).iter_items(ApiRequest("POST", "/contacts/search", body={"query": {}}, paging="search")))
    assert [c["id"] for c in got] == ["c1"]
    assert len(api.seen) == 3


def test_put_and_delete_by_id_are_retried():
    with serve(replies(Reply(503, "x"), OK, Reply(503, "x"), OK)) as api:
        client = client_against(api)
        client.call("PUT", "/contacts/c1", json={"name": "n"})
        client.call("DELETE", "/contacts/c1")
    assert [r.method for r in api.seen] == ["PUT", "PUT", "DELETE", "DELETE"]


def test_explicitly_idempotent_post_is_retried():
    with serve(replies(Reply(500, "x"), OK)) as api:
        client_against(api).call("POST", "/contacts/c1/tags", json={"id": "t1"}, idempotent=True)
    assert len(api.seen) == 2


def test_connection_refused_is_retried_even_for_a_create_then_reported():
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = FakeClock()
    client = IntercomClient(f"http://127.0.0.1:{port}", TOKEN, clock=clock, sleep=clock.sleep, max_retries=2)
    with pytest.raises(errors.TransportError) as caught:
        client.call("POST", "/contacts", json={"email": "a@b.c"})
    assert client.calls_made == 3  # nothing was sent, so resending a create is safe
    assert "after 3 attempt(s)" in str(caught.value)
    assert caught.value.hint == "check api_url/region and network"


def test_read_timeouts_are_retried_for_reads_and_reported():
    with serve(replies(Reply(delay=0.5, body={}))) as api:
        client = client_against(api, read_timeout=0.1, max_retries=1)
        with pytest.raises(errors.TransportError, match="ReadTimeout"):
            client.call("GET", "/contacts")
    assert len(api.seen) == 2


@pytest.mark.parametrize(
    "status,cls,hint_part",
    [
        (401, errors.AuthenticationError, "check the access_token of your USER MAPPING"),
        (403, errors.AuthenticationError, "permission"),
        (404, errors.NotFoundError, "does not exist"),
        (409, errors.ApiRejectedError, "must be unique"),
        (422, errors.ApiRejectedError, "rejected the request's values"),
        (400, errors.ApiRejectedError, "rejected the request's values"),
    ],
)
def test_error_mapping(status, cls, hint_part):
    body = error_list("some_code", "Something is wrong", "req-42")
    with serve(replies(Reply(status, body))) as api:
        with pytest.raises(cls) as caught:
            client_against(api).call("GET", "/contacts/c1")
    error = caught.value
    assert len(api.seen) == 1
    assert (error.status, error.code, error.request_id) == (status, "some_code", "req-42")
    assert str(error) == f"Intercom answered HTTP {status} to GET /contacts/c1: some_code: Something is wrong"
    assert hint_part in error.hint


@pytest.mark.parametrize("creates,hint", [(True, error_mapping.CREATE_CONFLICT_HINT),
                                          (False, error_mapping.CONFLICT_HINT)])
def test_a_409_is_told_as_an_existing_object_only_for_a_create(creates, hint):
    body = error_list("conflict", "A contact matching those details already exists with id=c9")
    with serve(replies(Reply(409, body))) as api:
        request = ApiRequest("POST" if creates else "PUT", "/contacts" if creates else "/contacts/c1",
                             body={"email": "a@b.c"}, creates=creates)
        with pytest.raises(errors.ApiRejectedError) as caught:
            client_against(api).send(request)
    assert caught.value.hint == hint


def test_further_intercom_errors_go_to_the_detail():
    body = {"type": "error.list", "errors": [{"code": "a", "message": "first"}, {"code": "b", "message": "second"}]}
    with serve(replies(Reply(422, body, {"X-Request-Id": "hdr-id"}))) as api:
        with pytest.raises(errors.ApiRejectedError) as caught:
            client_against(api).call("POST", "/contacts", json={})
    assert caught.value.detail == "b: second"
    assert caught.value.request_id == "hdr-id"


def test_redirects_are_not_followed():
    moved = Reply(301, None, {"Location": "https://api.intercom.io/contacts?x=1"})
    with serve(replies(moved, OK)) as api:
        with pytest.raises(errors.ConfigurationError, match="redirect to https://api.intercom.io/contacts") as caught:
            client_against(api).call("POST", "/contacts", json={"email": "a@b.c"})
    assert len(api.seen) == 1 and caught.value.status == 301
    assert "api_url" in caught.value.hint


def test_a_2xx_body_that_is_not_json_is_an_error():
    with serve(replies(Reply(200, "<html>login</html>"))) as api:
        with pytest.raises(errors.ServerError, match="not JSON") as caught:
            client_against(api).call("GET", "/contacts")
    assert "api_url" in caught.value.hint


# ---- secrets ----

def test_the_token_never_shows(caplog):
    echo = Reply(401, error_list("unauthorized", f"Access Token Invalid: Bearer {TOKEN} ({TOKEN})"))
    caplog.set_level(logging.DEBUG)  # ours and urllib3's request lines
    with serve(replies(Reply(503, "down"), echo)) as api:
        client = client_against(api)
        with pytest.raises(errors.AuthenticationError) as caught:
            client.call("GET", "/me")
    error = caught.value
    assert len(api.seen) == 2
    for text in (str(error), repr(error), error.hint, repr(client), caplog.text):
        assert TOKEN not in text
    assert "Access Token Invalid" in str(error)
    assert "GET /me -> 503" in caplog.text  # the request log exists, it just has no secrets


def test_a_client_without_token_fails_clearly():
    with pytest.raises(errors.AuthenticationError, match="no Intercom access token") as caught:
        IntercomClient("http://127.0.0.1:1", "")
    assert "USER MAPPING" in caught.value.hint


# ---- throttle ----

def test_throttle_spreads_calls_when_the_budget_runs_low():
    clock = FakeClock()
    calls = []

    def handler(request):
        calls.append(1)
        remaining = 1000 - len(calls) * 450  # 550, 100, then plenty again
        remaining = remaining if remaining > 0 else 900
        return Reply(body={}, headers={"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": str(remaining),
                                       "X-RateLimit-Reset": str(int(clock.now + 10))})

    with serve(handler) as api:
        client = client_against(api, clock)
        for _ in range(4):
            client.call("GET", "/contacts")
    # after "100 of 1000 left, 10 s to reset" the next call waits 10/100 s; then full speed again
    assert clock.sleeps == [pytest.approx(0.1)]


def test_throttle_waits_for_the_reset_when_nothing_is_left():
    clock = FakeClock()
    headers = {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(clock.now + 6))}
    with serve(replies(Reply(body={}, headers=headers), OK)) as api:
        client = client_against(api, clock)
        client.call("GET", "/contacts")
        client.call("GET", "/contacts")
    assert clock.sleeps == [pytest.approx(6.0)]
    assert len(api.seen) == 2  # no 429 was needed


# ---- concurrency ----

def test_get_many_keeps_input_order_and_bounds_concurrency():
    def handler(request):
        n = int(request.path.rsplit("/", 1)[1])
        return Reply(body={"id": str(n)}, delay=0.05 * (n % 3))

    requests = [ApiRequest("GET", f"/articles/{n}", items_key=None) for n in range(12)]
    with serve(handler) as api:
        got = list(client_against(api).get_many(requests, concurrency=3))
    assert got == [[{"id": str(n)}] for n in range(12)]
    assert api.max_in_flight <= 3
    assert api.max_in_flight >= 2  # it did run concurrently


def test_get_as_completed_yields_each_as_it_completes_and_keeps_the_width_in_flight():
    def handler(request):
        n = int(request.path.rsplit("/", 1)[1])
        return Reply(body={"id": str(n)}, delay=0.3 if n == 0 else 0.02)

    tagged = ((n, ApiRequest("GET", f"/articles/{n}", items_key=None)) for n in range(12))
    with serve(handler) as api:
        got = list(client_against(api).get_as_completed(tagged, concurrency=3))
    assert sorted(tag for tag, _ in got) == list(range(12))
    assert all(items == [{"id": str(tag)}] for tag, items in got)
    assert got[0][0] != 0  # the slow first request held back no other
    assert 2 <= api.max_in_flight <= 3


@pytest.mark.parametrize("fan_out", ["get_many", "get_as_completed"])
def test_per_row_reads_start_narrow_and_widen_as_their_results_are_taken(fan_out):
    # A consumer that stops after one result (a LIMIT 1) has sent FIRST_READS + 2 requests at most;
    # one that takes every result soon keeps the whole width (16) in flight.
    def handler(request):
        return Reply(body={"id": request.path}, delay=0.05)

    def results(client, n):
        requests = (ApiRequest("GET", f"/articles/{i}", items_key=None) for i in range(n))
        if fan_out == "get_many":
            return client.get_many(requests, concurrency=16)
        return client.get_as_completed(((None, r) for r in requests), concurrency=16)

    with serve(handler) as api:
        client = client_against(api)
        stream = results(client, 200)
        next(stream)
        stream.close()
        assert len(api.seen) <= FIRST_READS + 2, len(api.seen)
        assert len(list(results(client, 200))) == 200
    assert api.max_in_flight == 16


def test_get_many_missing_ids_give_empty_lists_and_errors_propagate():
    def handler(request):
        if request.path.endswith("/gone"):
            return Reply(404, error_list("not_found", "Resource Not Found"))
        if request.path.endswith("/denied"):
            return Reply(403, error_list("forbidden", "no"))
        return Reply(body={"id": request.path})

    with serve(handler) as api:
        client = client_against(api)
        reqs = [ApiRequest("GET", p, items_key=None, allow_404=True) for p in ("/contacts/a", "/contacts/gone")]
        assert list(client.get_many(reqs)) == [[{"id": "/contacts/a"}], []]
        with pytest.raises(errors.AuthenticationError):
            list(client.get_many([ApiRequest("GET", "/contacts/denied", items_key=None)]))


def test_get_many_shares_the_throttle():
    clock = FakeClock(advance=False)
    headers = {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "10", "X-RateLimit-Reset": str(int(clock.now + 10))}
    with serve(lambda r: Reply(body={"id": "x"}, headers=headers)) as api:
        client = client_against(api, clock)
        client.call("GET", "/warmup")  # learns: 10 calls left for 10 s -> one call a second
        list(client.get_many([ApiRequest("GET", f"/a/{n}", items_key=None) for n in range(4)], concurrency=4))
    # four threads, one throttle: their send slots are one second apart, not four at once
    assert sorted(clock.sleeps) == pytest.approx([1.0, 2.0, 3.0, 4.0])


# ---- one client per backend ----

def test_client_for_caches_per_url_token_version_and_options():
    a = client_for("http://127.0.0.1:9/", TOKEN)
    assert client_for("http://127.0.0.1:9", TOKEN) is a
    assert client_for("http://127.0.0.1:9", TOKEN + "x") is not a
    assert client_for("http://127.0.0.1:9", TOKEN, "2.13") is not a
    assert client_for("http://127.0.0.1:9", TOKEN, read_timeout=5) is not a


def test_clients_are_thread_safe_to_share():
    with serve(replies(OK)) as api:
        client = client_against(api)
        threads = [threading.Thread(target=client.call, args=("GET", "/contacts/c1")) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert client.calls_made == 8 == len(api.seen)


# ---- regions ----

@pytest.mark.parametrize(
    "region,api_url,expected",
    [
        ("us", None, "https://api.intercom.io"),
        ("EU", None, "https://api.eu.intercom.io"),
        (" au ", None, "https://api.au.intercom.io"),
        (None, None, "https://api.intercom.io"),
        ("eu", "http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("mars", "http://localhost:1", "http://localhost:1"),
    ],
)
def test_api_base_url(region, api_url, expected):
    assert api_base_url(region, api_url) == expected


def test_api_base_url_errors():
    with pytest.raises(errors.ConfigurationError, match="unknown Intercom region 'mars'") as caught:
        api_base_url("mars", None)
    assert "au, eu, us" in caught.value.hint
    with pytest.raises(errors.ConfigurationError, match="not an http"):
        api_base_url(None, "api.intercom.io")


def test_a_nul_character_in_any_string_arrives_as_the_replacement_character():
    body = b'{"type": "contact", "id": "c1", "name": "a\\u0000b", "tags": [{"n\\u0000": "\\u0000"}], "n": 1}'
    with serve(replies(Reply(body=body, headers={"Content-Type": "application/json"}))) as api:
        got = client_against(api).call("GET", "/contacts/c1")
    assert got == {"type": "contact", "id": "c1", "name": "a\ufffdb", "tags": [{"n\ufffd": "\ufffd"}], "n": 1}
    # in the items of a page too (whose items are otherwise decoded one by one, decoding.deferred)
    page = b'{"type": "list", "data": [{"id": "c1"}, {"id": "c2", "name": "a\\u0000b"}], "pages": {}}'
    with serve(replies(Reply(body=page, headers={"Content-Type": "application/json"}))) as api:
        got = list(client_against(api).iter_items(ApiRequest("GET", "/contacts", paging="cursor")))
    assert got == [{"id": "c1"}, {"id": "c2", "name": "a\ufffdb"}]


def test_the_environment_s_proxy_and_ca_bundle_are_read_once_when_the_client_is_made(monkeypatch):
    from intercom_fdw.client.http import IntercomClient

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = IntercomClient("https://api.intercom.io", "tok-env")
    assert client._transport.proxy == "http://proxy.example:3128"
    assert client._transport.verify == "/etc/ssl/company.pem"
    monkeypatch.setenv("NO_PROXY", "api.intercom.io")
    assert client._transport.proxy == "http://proxy.example:3128"  # not read again per request
    assert IntercomClient("https://api.intercom.io", "tok-env")._transport.proxy is None


def test_calls_go_through_the_environment_s_http_proxy_with_its_credentials(monkeypatch):
    import base64

    from intercom_fdw.client.http import IntercomClient

    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with serve(replies(OK)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://someone:pa%3Ass@"))
        got = IntercomClient("http://api.intercom.example", TOKEN).call("GET", "/contacts/c1")
    assert got == OK.body
    seen = proxy.seen[0]
    assert seen.path == "/contacts/c1" and seen.headers["Host"] == "api.intercom.example"
    headers = {name.lower(): value for name, value in seen.headers.items()}
    assert headers["proxy-authorization"] == "Basic " + base64.b64encode(b"someone:pa:ss").decode()
    assert headers["authorization"] == f"Bearer {TOKEN}"


def test_all_proxy_applies_when_no_scheme_s_proxy_is_set(monkeypatch):
    from intercom_fdw.client.http import IntercomClient

    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", "http://every.example:8080")
    assert IntercomClient("https://api.intercom.io", "tok-env")._transport.proxy == "http://every.example:8080"


def test_a_socks_proxy_in_the_environment_is_refused_with_a_hint(monkeypatch):
    from intercom_fdw.client.http import IntercomClient

    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(errors.ConfigurationError, match="socks5 proxy") as raised:
        IntercomClient("https://api.intercom.io", "tok-env")
    assert "HTTPS_PROXY" in raised.value.hint


def test_a_json_body_holding_nan_is_refused_before_anything_is_sent():
    with serve(replies(OK)) as api:
        with pytest.raises(errors.TransportError, match="NaN|Out of range float"):
            client_against(api).call("POST", "/contacts", json={"custom_attributes": {"score": float("nan")}})
    assert api.seen == []
