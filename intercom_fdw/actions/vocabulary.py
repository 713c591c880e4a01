"""The words an action is described in: parameters, value rules, body templates, the action itself.

Everything here is pure: binding SQL arguments to an action checks them (NULLs, enumerations, rules)
and planning turns them into one HTTP request. Nothing does I/O, so every rule is unit-tested
without PostgreSQL or HTTP, and every problem is found before Intercom is called.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Tuple

from intercom_fdw.api_request import ApiRequest, UnaddressableId, bind_path
from intercom_fdw.errors import ConfigurationError, IntercomError

# A rule looks at one non-NULL argument value and returns None, or (problem, hint). `now` is the
# UNIX time of the call, passed in so that rules stay pure.
Rule = Callable[[Any, float], Optional[Tuple[str, str]]]

# A check looks at all the bound arguments of an action (by name, NULL as None) and returns None, or
# (parameter name, problem, hint): for rules that tie one argument to another.
Check = Callable[[Mapping[str, Any]], Optional[Tuple[str, str, str]]]


@dataclass(frozen=True)
class Unknown:
    """How Intercom says that an argument names nothing: the error codes (or, for answers whose code
    is generic, the messages) of its answer, and what the caller is told instead ("argument admin_id
    '7' is not an admin of this workspace"). An action's answer names no argument by itself."""

    codes: Tuple[str, ...] = ()
    messages: Tuple[str, ...] = ()
    is_not: str = ""
    hint: str = ""

    def matches(self, error: IntercomError) -> bool:
        # The client's message ends with Intercom's own ("...: not_found: Conversation not found").
        said = error.message.lower()
        return error.code in self.codes or any(said.endswith(": " + message) for message in self.messages)


@dataclass(frozen=True)
class Param:
    """One SQL parameter of an action function.

    `default` is the SQL DEFAULT expression. A parameter without one is required and may be
    neither NULL nor empty, unless `nullable` (a parameter in the middle of the signature that
    Intercom does not need). A NULL optional argument is left out of the request body.
    `choices` enumerates the values Intercom accepts; `to_api` converts the SQL value into the
    JSON value Intercom expects (it may raise ValueError, reported with `to_api_hint`).
    """

    name: str
    sql_type: str = "text"
    default: Optional[str] = None
    nullable: bool = False
    choices: Tuple[str, ...] = ()
    rules: Tuple[Rule, ...] = ()
    to_api: Optional[Callable[[Any], Any]] = None
    to_api_hint: str = ""
    unknown: Optional[Unknown] = None

    @property
    def required(self) -> bool:
        return self.default is None and not self.nullable


@dataclass(frozen=True)
class Arg:
    """A place in a body template filled with the named argument (left out when it is NULL)."""

    name: str


@dataclass(frozen=True)
class Action:
    """One Intercom action as an SQL function.

    `path` is a template whose `{fields}` are arguments; `body` a JSON template of constants and
    `Arg`s. `idempotent` tells the client whether a request that may have reached Intercom can be
    sent again: true only when a second send leaves Intercom in the same state and gives the same
    answer. `empty_response` is returned when Intercom answers 2xx without a body. `checks` are
    rules between arguments, run after each argument passed its own. `target` names the parameter
    that says which object the action is for (its first when empty): an error that stops a statement
    part-way names its earlier calls by it (statement_calls.py).
    """

    name: str
    summary: str
    method: str
    path: str
    params: Tuple[Param, ...]
    body: Optional[Mapping[str, Any]] = None
    idempotent: bool = False
    empty_response: Mapping[str, Any] = field(default_factory=dict)
    checks: Tuple[Check, ...] = ()
    target: str = ""

    @property
    def target_name(self) -> str:
        return self.target or self.params[0].name

    def bind(self, values, now: Optional[float] = None) -> dict:
        """Check positional SQL argument values and return them by name, converted for the API.

        Raises ConfigurationError naming the parameter and the valid values (the SQL edge adds the
        function's name to every message).
        """
        if len(values) != len(self.params):
            # The installed SQL script and the Python package come from different versions.
            raise ConfigurationError(
                f"takes {len(self.params)} arguments besides server, got {len(values)}",
                hint="install the extension script of the installed intercom_fdw package "
                     "(make -C sql install), then DROP and CREATE EXTENSION intercom_fdw",
            )
        now = time.time() if now is None else now
        arguments = {p.name: self._check(p, v, now) for p, v in zip(self.params, values)}
        for check in self.checks:
            problem = check(arguments)
            if problem:
                name, message, hint = problem
                raise _argument_error(next(p for p in self.params if p.name == name), message, hint)
        return arguments

    def _check(self, param: Param, value: Any, now: float) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            if param.required:
                raise _argument_error(
                    param, "must not be NULL or empty", f"pass a value for {param.name}"
                )
            return None
        if param.choices and value not in param.choices:
            valid = ", ".join(param.choices)
            raise _argument_error(
                param, f"has invalid value {value!r}; valid values: {valid}",
                f"use one of: {valid}",
            )
        for rule in param.rules:
            problem = rule(value, now)
            if problem:
                raise _argument_error(param, *problem)
        if param.to_api is None:
            return value
        try:
            return param.to_api(value)
        except (TypeError, ValueError):
            raise _argument_error(param, f"has invalid value {value!r}", param.to_api_hint) from None

    def explain(self, error: IntercomError, arguments: Mapping[str, Any]) -> IntercomError:
        """Intercom's error for this action's request, told as the argument it is about when its
        answer says an argument names nothing (see `Unknown`); else the error as it is."""
        for param in self.params:
            value = arguments.get(param.name)
            if param.unknown is None or value is None or not param.unknown.matches(error):
                continue
            return type(error)(
                f"argument {param.name} {value!r} is not {param.unknown.is_not}",
                hint=param.unknown.hint or None,
                detail="; ".join(filter(None, [error.message, error.detail])),
                status=error.status, code=error.code, request_id=error.request_id,
            )
        return error

    def plan(self, arguments: Mapping[str, Any]) -> ApiRequest:
        """The HTTP request for arguments returned by `bind`."""
        try:
            path = bind_path(self.path, {name: value for name, value in arguments.items() if value is not None})
        except UnaddressableId as error:
            param = next(p for p in self.params if p.name == error.name)
            raise _argument_error(param, f"has invalid value {error.value!r}: no Intercom id is empty, '.' or '..'",
                                  f"pass the id of the object for {param.name}") from None
        body = _render(self.body, arguments) if self.body is not None else None
        return ApiRequest(self.method, path, body=body, repeatable=self.idempotent)


def _argument_error(param: Param, problem: str, hint: str) -> ConfigurationError:
    return ConfigurationError(
        f"argument {param.name} {problem}",
        hint=hint or None,
        detail="the argument was checked before any request was sent to Intercom",
    )


def _render(template: Any, arguments: Mapping[str, Any]) -> Any:
    """Fill a body template: `Arg`s take their argument's value, NULL arguments drop their key."""
    if isinstance(template, Arg):
        return arguments[template.name]
    if isinstance(template, Mapping):
        rendered = {key: _render(value, arguments) for key, value in template.items()}
        return {key: value for key, value in rendered.items() if value is not None}
    return template


# --- Rules ----------------------------------------------------------------------------------

def at_most_keys(limit: int, what: str) -> Rule:
    def rule(value, now):
        if not isinstance(value, Mapping):
            return f"must be a JSON object, got {type(value).__name__}", f'pass {what} like \'{{"plan": "pro"}}\''
        if len(value) > limit:
            return (
                f"has {len(value)} keys; Intercom accepts at most {limit}",
                f"keep at most {limit} keys in {what}",
            )
        return None
    return rule


def comma_delimited_items(value, now):
    """Intercom takes a list attribute's items as one comma-delimited string (the OpenAPI file's
    `list_items`: "Low Priority,Medium Priority,High Priority")."""
    items = [item.strip() for item in value.split(",")]
    example = "pass the items separated by commas, like 'Low,Medium,High'"
    if any(not item for item in items):
        return f"has an empty item in {value!r}", example
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        return f"names {', '.join(map(repr, duplicates))} more than once", "name each item once"
    return None


def in_future(value, now):
    if value <= now:
        return "is in the past", "pass a time after now(), for example now() + interval '1 hour'"
    return None


def string_values(value: Mapping) -> dict:
    """The OpenAPI file declares event metadata values as strings: numbers and booleans are sent
    as their JSON text, and values that have no string form (null, objects, arrays) are refused."""
    def text(item):
        if isinstance(item, str):
            return item
        if isinstance(item, (int, float)):  # bool included
            return json.dumps(item)
        raise ValueError(item)
    return {key: text(item) for key, item in value.items()}


def integer_id(value) -> int:
    """Intercom declares this admin id as an integer in the request body (messages' `from.id`)."""
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(text)
    return int(text)
