"""Transport: the client's HTTP/1.1 calls, straight on urllib3 (the library requests itself sends with).

requests' Session costs about 9 us of CPU per row of a scan (1.4 ms per page of 150 contacts) on
top of urllib3 (bench/http_transport.py prints both side by side): merging session settings and
cookies per call, reading the body in 10 KB chunks through generators, parsing the answer's
headers again for cookies. A scan at the rate limit's ceiling is bound by the backend's CPU, so
the client sends with urllib3's pool manager, reads each body in one go, and keeps only what it
uses of requests' behaviour:

- no cookies, no redirects followed (Intercom's API does neither), no retries (policy.py's);
- the environment (proxies, a CA bundle) is read once, when the transport is made;
- `Authorization: Bearer` set by the transport, so ~/.netrc never replaces the token;
- params as requests encodes them (None dropped, sequences repeated), a JSON body as requests
  writes it (allow_nan=False: NaN is not JSON);
- connections are interrupts.py's abortable ones: an interrupt shuts a request's socket down.

An answer whose body is not UTF-8 JSON is decoded as requests would (`Response.json`, `text`),
with requests' own helpers: those are rare, and requests' rules for charsets are the ones users know.
"""
from __future__ import annotations

import http.client
import json
import os
import time
from typing import Any, Mapping, Optional, Tuple
from urllib.parse import urlencode, urlsplit

import certifi
import requests.models
import requests.structures
import requests.utils
import urllib3
import urllib3.exceptions

from intercom_fdw import errors
from intercom_fdw.client.interrupts import abortable_pools
from intercom_fdw.client.policy import CONNECT, TRANSPORT


class MalformedRequest(Exception):
    """A call that cannot be sent as asked (a JSON body holding NaN, a URL or header http.client refuses)."""


# What a failed call can raise: urllib3's errors, the OSError or http.client error of a socket or
# status line it does not wrap, and MalformedRequest.
TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException, MalformedRequest)


class Response:
    """What the client reads of one answer: status, headers (case-insensitive), the whole body."""

    __slots__ = ("status_code", "headers", "content", "url", "elapsed")

    def __init__(self, status_code: int, headers, content: bytes, url: str, elapsed: float):
        self.status_code, self.headers, self.content, self.url, self.elapsed = (
            status_code, headers, content, url, elapsed)

    @property
    def encoding(self) -> Optional[str]:
        """The body's charset as requests reads it (application/json: UTF-8; text/*: ISO-8859-1)."""
        return requests.utils.get_encoding_from_headers(self.headers)

    def _as_requests(self) -> requests.models.Response:
        response = requests.models.Response()
        response.status_code, response._content, response.url = self.status_code, self.content, self.url
        response.headers = requests.structures.CaseInsensitiveDict(self.headers)
        response.encoding = self.encoding
        return response

    def json(self) -> Any:
        """requests' Response.json(): the declared charset, else UTF-8/16/32 by the first bytes; ValueError if not JSON."""
        return self._as_requests().json()

    @property
    def text(self) -> str:
        return self._as_requests().text


class Transport:
    def __init__(self, base_url: str, token: str, headers: Mapping[str, str], timeout: Tuple[float, float],
                 max_connections: int):
        self._headers = {**headers, "Accept-Encoding": "gzip, deflate", "Authorization": f"Bearer {token}"}
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        # What requests would read from the environment on every call, read once: every call goes to
        # base_url (next-page URLs are re-rooted on it).
        proxies = requests.utils.get_environ_proxies(base_url)  # {} when NO_PROXY names the host
        self.proxy = proxies.get(urlsplit(base_url).scheme.lower()) or proxies.get("all")
        self.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
        tls = {"cert_reqs": "CERT_REQUIRED"}
        tls["ca_cert_dir" if os.path.isdir(self.verify) else "ca_certs"] = self.verify
        pools = {"num_pools": 2, "maxsize": max_connections, "block": False, "retries": False, **tls}
        if self.proxy is None:
            self._manager = urllib3.PoolManager(**pools)
        else:
            self._manager = _proxy_manager(self.proxy, pools)
        self._manager.pool_classes_by_scheme = abortable_pools()

    def __repr__(self) -> str:
        return "Transport([secret])"

    def request(self, method: str, url: str, params: Optional[Mapping] = None, json_body: Any = None) -> Response:
        """One call, no retry: the answer (3xx included, never followed) or a TRANSPORT_ERRORS error."""
        headers = self._headers
        body = None
        try:
            if json_body is not None:
                body = json.dumps(json_body, allow_nan=False).encode()  # as requests' json=: NaN is refused
                headers = {**headers, "Content-Type": "application/json"}
            if params:
                query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
                if query:
                    url = f"{url}{'&' if '?' in url else '?'}{query}"
            started = time.perf_counter()
            answer = self._manager.urlopen(method, url, body=body, headers=headers, timeout=self._timeout,
                                           retries=False, redirect=False, preload_content=True)
        except (ValueError, TypeError) as exc:
            if isinstance(exc, urllib3.exceptions.HTTPError):  # LocationParseError is both
                raise
            raise MalformedRequest(f"{type(exc).__name__}: {exc}") from None
        return Response(answer.status, answer.headers, answer.data, url, time.perf_counter() - started)


def _proxy_manager(proxy: str, pools: dict) -> urllib3.ProxyManager:
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.scheme not in ("http", "https"):
        raise errors.ConfigurationError(
            f"the environment names a {parts.scheme} proxy for Intercom; only http and https proxies are supported",
            hint="set HTTPS_PROXY to an http:// proxy, or add the API's host to NO_PROXY")
    username, password = requests.utils.get_auth_from_url(proxy)
    proxy_headers = urllib3.make_headers(proxy_basic_auth=f"{username}:{password}") if username else None
    # the credentials travel in Proxy-Authorization, not in the proxy's URL
    return urllib3.ProxyManager(parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl(),
                                proxy_headers=proxy_headers, **pools)


def transport_kind(exc: BaseException) -> Optional[str]:
    """CONNECT when nothing was sent (safe to resend anything), None for a malformed request,
    TRANSPORT for the rest: the request may have reached Intercom (timeouts, dropped connections,
    a body cut short)."""
    if isinstance(exc, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)):
        return CONNECT
    if isinstance(exc, (MalformedRequest, urllib3.exceptions.LocationValueError, urllib3.exceptions.URLSchemeUnknown)):
        return None
    return TRANSPORT
