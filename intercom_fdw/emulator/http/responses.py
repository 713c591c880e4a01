"""Sending a JSON body the way the knobs say: whole, slowly, or cut off mid-way."""
from __future__ import annotations

import asyncio
from typing import Dict

import orjson

CHUNKS_OF_A_SLOW_BODY = 5


class ApiResponse:
    """A minimal ASGI response (cheaper than Starlette's for the hot list path)."""

    __slots__ = ("status", "body", "headers", "slow_ms", "drop")

    def __init__(self, status: int, body: bytes, headers: Dict[str, str], slow_ms: float = 0.0,
                 drop: bool = False, content_type: str = "application/json; charset=utf-8"):
        self.status = status
        self.body = body
        self.headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        self.headers += [(k.lower().encode(), str(v).encode()) for k, v in headers.items()]
        self.slow_ms = slow_ms
        self.drop = drop

    @classmethod
    def json(cls, status: int, payload, headers: Dict[str, str], **kwargs) -> "ApiResponse":
        body = b"" if payload is None else orjson.dumps(payload)
        return cls(status, body, headers, **kwargs)

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        body = self.body
        if self.drop:
            # Half the body, then return without finishing: the server closes the connection and the
            # client sees a truncated response (uvicorn logs one line about the incomplete response).
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            return
        if self.slow_ms > 0 and len(body) > 1:
            step = -(-len(body) // CHUNKS_OF_A_SLOW_BODY)
            pause = self.slow_ms / 1000 / CHUNKS_OF_A_SLOW_BODY
            for start in range(0, len(body), step):
                await asyncio.sleep(pause)
                await send({"type": "http.response.body", "body": body[start:start + step], "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.body", "body": body})
