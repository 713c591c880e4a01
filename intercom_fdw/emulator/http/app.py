"""The Starlette application: Intercom's routes behind auth, rate limit and the realism knobs,
plus the emulator's own `/__emulator/` admin routes and the OAuth pages."""
from __future__ import annotations

import asyncio
import logging
import re
import uuid

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from intercom_fdw.emulator.apierror import ApiError
from intercom_fdw.emulator.backend import Accepted, Req
from intercom_fdw.emulator.http import admin, oauth
from intercom_fdw.emulator.http.responses import ApiResponse
from intercom_fdw.emulator.http.routes import ALL_ROUTES, ApiRoute
from intercom_fdw.emulator.state import EmulatorState

_LOG = logging.getLogger("intercom_fdw.emulator")
_PARAM = re.compile(r"\{[^}]+\}")
# The versions the `Intercom-Version` header may name (the file's `intercom_version` enum). Every
# version is answered with 2.14 shapes; an unknown one is refused as Intercom does.
INTERCOM_VERSIONS = frozenset(["1.0", "1.1", "1.2", "1.3", "1.4"] + [f"2.{n}" for n in range(15)] + ["Unstable"])
FAULT_STATUSES = (500, 502, 503)
_FAULT_ERRORS = {
    500: ("server_error", "Request failed due to an internal error. Please try again."),
    502: ("bad_gateway", "Bad gateway: the upstream server did not answer. Please try again."),
    503: ("service_unavailable", "Service temporarily unavailable. Please try again."),
}


def counter_key(method: str, template: str) -> str:
    """"GET /contacts/{id}": method and path template, every path parameter shown as {id}."""
    return f"{method} {_PARAM.sub('{id}', template)}"


def error_response(error: ApiError, headers: dict) -> ApiResponse:
    return ApiResponse.json(error.status, error.body(str(uuid.uuid4())), headers)


def _bearer(request: Request):
    value = request.headers.get("authorization", "")
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None


def _log(state: EmulatorState, request: Request, route_key: str, raw: bytes) -> None:
    body = None
    if raw:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
    state.requests.append({"method": request.method, "path": request.url.path,
                           "query": dict(request.query_params), "body": body, "route": route_key})


def api_endpoint(state: EmulatorState, route: ApiRoute):
    key = counter_key(route.method, route.template)
    operation, ok_status, writes = route.operation, route.status, route.writes

    async def endpoint(request: Request):
        raw = await request.body()
        _log(state, request, key, raw)
        state.counters[key] += 1
        knobs, runtime = state.knobs, state.runtime
        token = _bearer(request)
        ws = state.workspace_for(token)
        if ws is None:
            return error_response(ApiError(401, "unauthorized", "Access Token Invalid"), state.rate_headers())
        decision = state.rate_limiter.take(token, runtime.clock(), knobs.rate_limit_per_10s)
        headers = decision.headers()
        if not decision.allowed:
            return error_response(ApiError(429, "rate_limit_exceeded",
                                           "You have exceeded the rate limit. Please try again later."), headers)
        version = request.headers.get("intercom-version")
        if version is not None and version not in INTERCOM_VERSIONS:
            return error_response(ApiError(400, "intercom_version_invalid",
                                           f"Requested version {version!r} is not a valid Intercom-Version"), headers)
        if knobs.latency_ms or knobs.latency_jitter_ms:
            jitter = state.chance.uniform(-knobs.latency_jitter_ms, knobs.latency_jitter_ms)
            await asyncio.sleep(max(0.0, knobs.latency_ms + jitter) / 1000)
        if knobs.fault_rate and state.chance.random() < knobs.fault_rate:
            status = state.chance.choice(FAULT_STATUSES)
            return error_response(ApiError(status, *_FAULT_ERRORS[status]), headers)
        drop = bool(knobs.drop_rate) and knobs.drop_route in ("", key) and state.chance.random() < knobs.drop_rate
        body = None
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return error_response(ApiError(400, "bad_request", "Request body is not valid JSON"), headers)
        req = Req(path=request.path_params, query=dict(request.query_params), body=body, token=token,
                  base_url=f"{request.url.scheme}://{request.url.netloc}")
        try:
            result = operation(ws, runtime, req)
        except ApiError as error:
            return error_response(error, headers)
        except Exception:  # an emulator bug: still answer in Intercom's error format, and say where
            _LOG.exception("emulator error in %s", key)
            return error_response(ApiError(500, "server_error", f"Emulator error in {key}"), headers)
        if writes:
            ws.touch()
        if result is Accepted:
            return ApiResponse(202, b"", headers, drop=drop)
        return ApiResponse.json(ok_status, result, headers, slow_ms=knobs.slow_body_ms, drop=drop)

    return endpoint


def _group_routes(state: EmulatorState) -> list:
    """One Starlette Route per path; methods dispatched inside (keeps route order from the table)."""
    by_path: dict = {}
    for api_route in ALL_ROUTES:
        by_path.setdefault(api_route.template, {})[api_route.method] = api_endpoint(state, api_route)
    routes = []
    for template, endpoints in by_path.items():
        routes.append(Route(template, _method_dispatch(state, endpoints), methods=list(endpoints)))
    return routes


def _method_dispatch(state: EmulatorState, endpoints: dict):
    if len(endpoints) == 1:
        return next(iter(endpoints.values()))

    async def dispatch(request: Request):
        return await endpoints[request.method](request)

    return dispatch


async def _unknown(request: Request):
    state: EmulatorState = request.app.state.emulator
    raw = await request.body()
    _log(state, request, "unmatched", raw)
    headers = state.rate_headers(_bearer(request) or "")
    if state.workspace_for(_bearer(request)) is None:
        return error_response(ApiError(401, "unauthorized", "Access Token Invalid"), headers)
    return error_response(ApiError(404, "not_found", "Resource Not Found"), headers)


def build_app(state: EmulatorState) -> Starlette:
    routes = admin.routes(state) + oauth.routes(state) + _group_routes(state)
    routes.append(Route("/{path:path}", _unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
    app = Starlette(routes=routes)
    app.state.emulator = state
    return app
