"""Checks shared by the write operations: field types, custom attributes, new ids."""
from __future__ import annotations

from typing import Any, Optional

from intercom_fdw.emulator.apierror import ApiError, invalid
from intercom_fdw.emulator.seed import hex_id
from intercom_fdw.emulator.workspace import Workspace

_PY_TYPES = {"string": (str,), "integer": (int,), "float": (int, float), "boolean": (bool,), "date": (int,),
             "datetime": (int, str), "options": (str,)}


def new_hex_id(ws: Workspace, kind: int) -> str:
    return hex_id(kind, ws.seed, 50_000_000 + ws.next_serial())


def new_numeric_id(ws: Workspace) -> str:
    return str(900_000_000 + ws.next_serial())


def typed(body: dict, name: str, kinds: tuple, required: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, "parameter_not_found", f"{name} is required")
        return None
    if isinstance(value, bool) and bool not in kinds:
        raise invalid(f"{name} must be {_describe(kinds)}")
    if not isinstance(value, kinds):
        raise invalid(f"{name} must be {_describe(kinds)}")
    return value


def _describe(kinds: tuple) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", dict: "an object",
             list: "an array"}
    return " or ".join(names[k] for k in kinds)


def checked_custom_attributes(ws: Workspace, model: str, values: Any) -> dict:
    """Custom attribute values must name existing data attributes of the model and fit their type."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise invalid("custom_attributes must be an object")
    known = {a["name"]: a for a in ws.data_attributes.values() if a["model"] == model and a["custom"]}
    for name, value in values.items():
        attr = known.get(name)
        if attr is None:
            raise ApiError(400, "parameter_invalid", f"Custom attribute '{name}' does not exist for {model}s; "
                           f"create it first with POST /data_attributes")
        if attr["archived"]:
            raise ApiError(400, "parameter_invalid", f"Custom attribute '{name}' is archived")
        if value is None:
            continue
        kinds = _PY_TYPES[attr["data_type"]]
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise ApiError(400, "parameter_invalid", f"Custom attribute '{name}' has data type "
                           f"{attr['data_type']}: {value!r} does not fit")
        if attr["data_type"] == "options" and attr.get("options") and value not in attr["options"]:
            raise ApiError(400, "parameter_invalid", f"'{value}' is not an option of custom attribute '{name}'")
    return values


def apply_custom_attributes(stored: dict, values: dict) -> None:
    merged = dict(stored["custom_attributes"])
    for name, value in values.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    stored["custom_attributes"] = merged  # a new dict: stale copies kept for list/search stay intact


def admin_or_404(ws: Workspace, admin_id: Optional[Any]) -> dict:
    if admin_id is None:
        raise ApiError(400, "parameter_not_found", "admin_id is required")
    admin = ws.admins.get(str(admin_id))
    if admin is None:
        raise ApiError(404, "admin_not_found", "Admin not found")
    return admin
