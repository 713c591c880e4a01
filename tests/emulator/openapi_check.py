"""Validate emulator traffic against Intercom's OpenAPI file (openapi-core), minus the listed deviations."""
from __future__ import annotations

import copy
import functools
import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30ReadValidator, validate
from werkzeug.datastructures import Headers, ImmutableMultiDict

from intercom_fdw.emulator.deviations import deviations_for
from tests.harness.openapi_file import openapi

INTERCOM_BASE = "https://api.intercom.io"


@functools.lru_cache(maxsize=1)
def _templates():
    """(method, compiled regex, template) for every operation of the file, literal paths first."""
    out = []
    for template, item in (openapi().spec / "paths").read_value().items():
        regex = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        for method in item:
            if method in ("get", "post", "put", "delete", "patch"):
                out.append((method.upper(), regex, template))
    out.sort(key=lambda entry: entry[2].count("{"))
    return out


def template_of(method: str, path: str) -> str:
    for m, regex, template in _templates():
        if m == method and regex.match(path):
            return template
    return path


class _Request:
    def __init__(self, request: httpx.Request, body: bytes):
        url = urlsplit(str(request.url))
        self.host_url = INTERCOM_BASE
        self.path = url.path
        self.method = request.method.lower()
        self.body = body or None
        self.content_type = request.headers.get("content-type", "application/json").split(";")[0]
        self.parameters = RequestParameters(query=ImmutableMultiDict(parse_qs(url.query)),
                                            header=Headers(dict(request.headers)), cookie=ImmutableMultiDict())


class _Response:
    def __init__(self, status: int, data: bytes, content_type: str, headers):
        self.status_code, self.data, self.content_type = status, data, content_type
        self.headers = Headers(dict(headers))


def _drop(node, parts):
    if not parts or node is None:
        return
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        items = node.get(head[:-2]) if isinstance(node, dict) else None
        for item in items or []:
            _drop(item, rest) if rest else None
        if not rest and isinstance(node, dict):
            node.pop(head[:-2], None)
    elif head.endswith("{}"):
        values = node.get(head[:-2]) if isinstance(node, dict) else None
        if isinstance(values, dict):
            if rest:
                for value in values.values():
                    _drop(value, rest)
            else:
                values.clear()
    elif isinstance(node, dict):
        if rest:
            _drop(node.get(head), rest)
        else:
            node.pop(head, None)


def _strip(body, fields):
    body = copy.deepcopy(body)
    for field in fields:  # "a[].b" -> ["a[]", "b"]; "a{}" -> ["a{}"]
        _drop(body, field.split("."))
    return body


def check_response(response: httpx.Response) -> None:
    """Raise AssertionError when the response does not match the file (allowing listed deviations)."""
    request = response.request
    path = urlsplit(str(request.url)).path
    template = template_of(request.method, path)
    query = parse_qs(urlsplit(str(request.url)).query)
    deviations = deviations_for(request.method, template, response.status_code, query)
    if any(d.not_in_file for d in deviations):
        return
    if any(d.status == response.status_code and not d.fields and not d.error_schema for d in deviations):
        return
    content_type = response.headers.get("content-type", "").split(";")[0]
    data = response.content
    body = json.loads(data) if data and content_type == "application/json" else None
    fields = [f for d in deviations for f in d.fields]
    if fields and body is not None:
        data = json.dumps(_strip(body, fields)).encode()
    operation = openapi().spec / "paths" / template / request.method.lower()
    declared = set((operation / "responses").keys()) if (operation / "responses").exists() else set()
    if response.status_code >= 400 and str(response.status_code) not in declared and "default" not in declared:
        assert any(d.error_schema for d in deviations), f"undeclared status {response.status_code} for {template}"
        _check_error_body(body, template)
        return
    try:
        openapi().validate_response(_Request(request, request.content), _Response(
            response.status_code, data, content_type or "application/json", response.headers))
    except Exception as error:  # openapi-core raises one of several error types; show the details
        cause = getattr(error, "__cause__", None)
        details = getattr(cause, "schema_errors", None) or [cause or error]
        raise AssertionError(f"{request.method} {path} -> {response.status_code} does not match the OpenAPI "
                             f"file: " + _describe(details)) from None


def _describe(details) -> str:
    seen = []
    for e in details:
        where = "/".join(str(p) for p in getattr(e, "absolute_path", ()))
        text = f"{where}: {str(getattr(e, 'message', e))[:200]}"
        if text not in seen:
            seen.append(text)
    return "; ".join(seen[:8])


def check_request(request: httpx.Request) -> None:
    path = urlsplit(str(request.url)).path
    template = template_of(request.method, path)
    deviations = deviations_for(request.method, template, 0, {})
    if any(d.not_in_file or d.request_unchecked for d in deviations):
        return
    content = request.content
    fields = [f for d in deviations for f in d.request_fields]
    if fields and content:
        content = json.dumps(_strip(json.loads(content), fields)).encode()
    try:
        openapi().validate_request(_Request(request, content))
    except Exception as error:
        cause = getattr(error, "__cause__", None)
        details = getattr(cause, "schema_errors", None) or [cause or error]
        raise AssertionError(f"request {request.method} {path} does not match the OpenAPI file: "
                             + _describe(details)) from None


def _check_error_body(body, where: str) -> None:
    schema = (openapi().spec / "components" / "schemas" / "error").read_value()
    try:
        validate(body, schema, cls=OAS30ReadValidator)
    except Exception as error:
        raise AssertionError(f"{where}: error body does not match the file's error schema: {error}") from None
    assert body["type"] == "error.list" and body["errors"], f"{where}: not an error.list"
    for error in body["errors"]:
        assert set(error) >= {"code", "message"}, f"{where}: error without code/message: {error}"
