"""`/__emulator/`: routes the real API does not have, to inspect and steer the emulator.

No Intercom auth, not counted, not rate-limited.
"""
from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.routing import Route

from intercom_fdw.emulator.http.responses import ApiResponse
from intercom_fdw.emulator.state import EmulatorState


def _json(state: EmulatorState, payload, status: int = 200) -> ApiResponse:
    return ApiResponse.json(status, payload, state.rate_headers())


def routes(state: EmulatorState) -> list:
    async def counters(request: Request):
        by_route = dict(state.counters)
        return _json(state, {"total": sum(by_route.values()), "by_route": by_route})

    async def reset_counters(request: Request):
        state.counters.clear()
        return _json(state, {"total": 0, "by_route": {}})

    async def get_config(request: Request):
        return _json(state, state.knobs.as_dict())

    async def patch_config(request: Request):
        try:
            changes = orjson.loads(await request.body() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of knob names to values")
            state.knobs.update(changes)
        except (ValueError, orjson.JSONDecodeError) as error:
            return _json(state, {"error": str(error)}, status=400)
        return _json(state, state.knobs.as_dict())

    async def reset(request: Request):
        state.reset()
        state.counters.clear()
        state.requests.clear()
        return _json(state, {"reset": True, "workspaces": len(state.workspaces)})

    async def requests(request: Request):
        try:
            limit = int(request.query_params.get("limit", "50"))
        except ValueError:
            return _json(state, {"error": "limit must be an integer"}, status=400)
        logged = list(state.requests)
        return _json(state, {"requests": logged[-limit:] if limit > 0 else []})

    return [
        Route("/__emulator/counters", counters, methods=["GET"]),
        Route("/__emulator/counters/reset", reset_counters, methods=["POST"]),
        Route("/__emulator/config", get_config, methods=["GET"]),
        Route("/__emulator/config", patch_config, methods=["PATCH"]),
        Route("/__emulator/reset", reset, methods=["POST"]),
        Route("/__emulator/requests", requests, methods=["GET"]),
    ]
