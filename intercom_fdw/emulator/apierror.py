"""The one error type of the emulator's backend, rendered as Intercom's `error.list` body."""
from __future__ import annotations


class ApiError(Exception):
    """An error Intercom would answer: HTTP status, Intercom's error code and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self, request_id: str) -> dict:
        return {
            "type": "error.list",
            "request_id": request_id,
            "errors": [{"code": self.code, "message": self.message}],
        }


def not_found(kind: str, code: str = "not_found") -> ApiError:
    return ApiError(404, code, f"{kind} Not Found")


def invalid(message: str, code: str = "parameter_invalid") -> ApiError:
    return ApiError(400, code, message)


def missing(name: str) -> ApiError:
    return ApiError(400, "parameter_not_found", f"{name} not specified")
