"""The HTTP client against the emulator: paging styles, call counts, retries under faults, the
companies scroll from two threads, OAuth end to end. No PostgreSQL: this is the client's layer."""
import math
import threading

import pytest
import requests

from intercom_fdw import errors
from intercom_fdw.client import ApiRequest, IntercomClient, error_mapping
from intercom_fdw.emulator import EmulatorConfig, start_in_thread
from intercom_fdw.tools.oauth import authorization_url, exchange_code

CONTACTS = 320
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def emulator():
    server = start_in_thread(EmulatorConfig(seed=11, token="client-test-token", contacts=CONTACTS))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(emulator):
    # fast backoff: faults are injected on purpose; the timing is tested in the unit tests
    return IntercomClient(emulator.url, emulator.token, backoff_base=0.01, backoff_cap=0.05)


@pytest.fixture
def counted(emulator):
    """calls() -> API calls the emulator counted since the test started."""
    requests.post(emulator.url + "/__emulator/counters/reset").raise_for_status()
    return lambda: requests.get(emulator.url + "/__emulator/counters").json()["total"]


@pytest.fixture
def knobs(emulator):
    def set_knobs(**changes):
        requests.patch(emulator.url + "/__emulator/config", json=changes).raise_for_status()

    yield set_knobs
    set_knobs(fault_rate=0.0, drop_rate=0.0)


def ids(items):
    return [item["id"] for item in items]


def test_full_contacts_scan_is_ceil_n_over_150_calls(client, counted):
    contacts = list(client.iter_items(ApiRequest("GET", "/contacts", paging="cursor", per_page=150)))
    assert len(set(ids(contacts))) == len(contacts) == CONTACTS
    assert counted() == math.ceil(CONTACTS / 150) == client.calls_made


def test_limit_reads_one_page(client, counted):
    got = list(client.iter_items(ApiRequest("GET", "/contacts", paging="cursor", per_page=150, max_items=5)))
    assert len(got) == 5 and counted() == 1


def test_search_by_email_is_one_call(client, counted):
    someone = next(client.iter_items(ApiRequest("GET", "/contacts", paging="cursor", max_items=1)))
    query = {"query": {"field": "email", "operator": "=", "value": someone["email"]}}
    found = list(client.iter_items(ApiRequest("POST", "/contacts/search", body=query, paging="search", per_page=150)))
    assert someone["id"] in ids(found)
    assert counted() == 2


def test_get_many_by_id_keeps_order_and_skips_missing(client, counted):
    wanted = ids(client.iter_items(ApiRequest("GET", "/contacts", paging="cursor", per_page=4, max_items=4)))
    wanted.insert(2, "000000000000000000000000")
    requests_ = [ApiRequest("GET", f"/contacts/{i}", items_key=None, allow_404=True) for i in wanted]
    got = list(client.get_many(requests_, concurrency=3))
    assert [ids(items) for items in got] == [[i] if n != 2 else [] for n, i in enumerate(wanted)]
    assert counted() == 1 + 5


def test_every_paging_style_reads_every_item_once(client):
    def read(request):
        items = list(client.iter_items(request))
        assert len(set(ids(items))) == len(items)
        return ids(items)

    scrolled = read(ApiRequest("GET", "/companies/scroll", paging="scroll"))
    assert sorted(read(ApiRequest("GET", "/companies", paging="page", per_page=7))) == sorted(scrolled)
    assert sorted(read(ApiRequest("POST", "/companies/list", paging="page", per_page=7))) == sorted(scrolled)
    logs = read(ApiRequest("GET", "/admins/activity_logs", {"created_at_after": "0"}, paging="next_url",
                           items_key="activity_logs"))
    assert len(logs) > 20  # more than the endpoint's page of 20: the next pages were followed
    conversations = read(ApiRequest("GET", "/conversations", paging="cursor", items_key="conversations", per_page=50))
    everything = {"query": {"field": "created_at", "operator": ">", "value": 0}}
    searched = read(ApiRequest("POST", "/conversations/search", body=everything, paging="search",
                               items_key="conversations", per_page=50))
    assert sorted(searched) == sorted(conversations)


def test_two_concurrent_company_scans_both_succeed(emulator):
    results = {}

    def scan(name):
        client = IntercomClient(emulator.url, emulator.token)
        results[name] = ids(client.iter_items(ApiRequest("GET", "/companies/scroll", paging="scroll")))

    threads = [threading.Thread(target=scan, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["a"] and sorted(results["a"]) == sorted(results["b"])


def test_reads_survive_server_faults_and_dropped_connections(client, knobs):
    knobs(fault_rate=0.25, drop_rate=0.1)
    contacts = list(client.iter_items(ApiRequest("GET", "/contacts", paging="cursor", per_page=20)))
    assert len(set(ids(contacts))) == CONTACTS
    assert client.calls_made > math.ceil(CONTACTS / 20)  # some calls were retried


@pytest.mark.parametrize("fault", ["fault_rate", "drop_rate"])
def test_a_create_is_sent_once_under_faults(client, knobs, counted, fault):
    """A 5xx or a connection cut mid-answer may follow a create that Intercom did process:
    the client reports it and never sends the create again."""
    email = f"created-once-{fault}@example.com"
    knobs(**{fault: 1.0})
    with pytest.raises((errors.ServerError, errors.TransportError)) as caught:
        client.call("POST", "/contacts", json={"email": email})
    knobs(**{fault: 0.0})
    assert counted() == 1
    assert caught.value.hint in ("check api_url/region and network", error_mapping.SERVER_ERROR_HINT)
    query = {"query": {"field": "email", "operator": "=", "value": email}}
    found = list(client.iter_items(ApiRequest("POST", "/contacts/search", body=query, paging="search")))
    # the emulator injects 5xx before processing and cuts connections after it
    assert len(found) == (1 if fault == "drop_rate" else 0)


def test_a_bad_token_is_an_authentication_error_without_the_token(emulator):
    bad = "not-the-token-7f3a9c"
    with pytest.raises(errors.AuthenticationError) as caught:
        IntercomClient(emulator.url, bad).call("GET", "/me")
    assert caught.value.status == 401 and "USER MAPPING" in caught.value.hint
    assert bad not in str(caught.value) and bad not in repr(caught.value)


def test_sign_in_with_intercom_end_to_end(emulator, client):
    app = EmulatorConfig().oauth_apps[0]
    url, state = authorization_url(app.client_id, app.redirect_uri, authorize_url=emulator.url + "/oauth")
    assert requests.get(url).status_code == 200  # the emulator's sign-in page
    admin = next(client.iter_items(ApiRequest("GET", "/admins", paging="unpaged", items_key="admins")))
    answer = requests.post(emulator.url + "/oauth/authorize", allow_redirects=False,
                           data={"client_id": app.client_id, "state": state, "email": admin["email"], "password": "x"})
    code = requests.utils.urlparse(answer.headers["Location"]).query.split("code=")[1].split("&")[0]
    token = exchange_code(code, app.client_id, app.client_secret, token_url=emulator.url + "/auth/eagle/token")
    assert IntercomClient(emulator.url, token).call("GET", "/me")["id"] == admin["id"]
    with pytest.raises(errors.AuthenticationError, match="invalid_grant"):  # codes work once
        exchange_code(code, app.client_id, app.client_secret, token_url=emulator.url + "/auth/eagle/token")


@pytest.mark.slow
def test_the_throttle_slows_down_before_intercom_says_429():
    """A budget of 4 calls per 10 s and 7 calls to make: the client waits for the next window
    instead of running into 429s (a 429 would show as a resent call)."""
    with start_in_thread(EmulatorConfig(seed=3, token="throttle-token", contacts=10,
                                        knobs={"rate_limit_per_10s": 4})) as emulator:
        client = IntercomClient(emulator.url, emulator.token)
        for _ in range(7):
            client.call("GET", "/admins")
    assert client.calls_made == 7
