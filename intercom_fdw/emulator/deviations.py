"""Where the emulator knowingly answers differently from Intercom's OpenAPI file, and why.

The one list of deviations. The conformance tests consult it: a response is validated against the
file after the fields named here are set aside, and error statuses the file leaves out are checked
against the file's own `error` schema. Anything not listed must validate as is.

`where` is (METHOD, path template) as in the file, "*" matching any; `fields` are paths in the JSON
body, `[]` standing for every item of a list and `{}` for every value of an object.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class Deviation:
    where: Tuple[str, str]
    reason: str
    fields: Tuple[str, ...] = ()  # set aside before validating
    status: Optional[int] = None  # only for answers with this status
    error_schema: bool = False  # the file lacks this status: validate against components/schemas/error
    condition: Optional[str] = None  # a query parameter that must be absent for the deviation to apply
    not_in_file: bool = False  # the endpoint is not described by the file at all
    request_unchecked: bool = False  # requests to this endpoint cannot be checked against the file
    request_fields: Tuple[str, ...] = ()  # request body fields set aside before validating a request


DEVIATIONS = (
    Deviation(("*", "*"), error_schema=True,
              reason="Intercom answers 400/404/409/422/429/500/502/503 with an error.list on every endpoint "
                     "(intercom-api-notes.md, 'Errors'), but the file declares only some statuses per "
                     "operation; bodies of undeclared error statuses are checked against its `error` schema."),
    Deviation(("GET", "/events"), condition="summary", fields=("type", "events", "pages"),
              reason="Without summary=true Intercom lists the events themselves ({type: 'event.list', "
                     "events: [data_event...], pages: {next: URL}}), as its endpoint description says; the "
                     "file gives only the summary shape (type 'event.summary')."),
    Deviation(("GET", "/events"), request_unchecked=True,
              reason="The file declares the contact identifier as a required `filter` object parameter "
                     "(style form, explode, oneOf) that openapi-core cannot read from the documented "
                     "?type=user&intercom_user_id=... form; the emulator checks those parameters itself."),
    Deviation(("GET", "/data_attributes"), fields=("data[].model",),
              reason="The `model` enum lists contact and company, but the same operation filters by "
                     "model=conversation and returns conversation attributes."),
    Deviation(("*", "/conversations*"), fields=("custom_attributes{}", "conversations[].custom_attributes{}"),
              reason="Conversation custom attributes of the boolean and float data types (which "
                     "GET /data_attributes?model=conversation lists) are not in the anyOf of the file's "
                     "`custom_attributes` schema (string, integer, datetime, object list)."),
    Deviation(("*", "/companies*"), fields=("custom_attributes{}", "data[].custom_attributes{}"),
              reason="The file types every company custom attribute value as a string, while its own example "
                     "(and the data attribute types integer, float, boolean, date) give numbers and booleans."),
    Deviation(("*", "/contacts/{contact_id}/companies*"),
              fields=("custom_attributes{}", "companies[].custom_attributes{}"),
              reason="Same company custom attribute typing as above, in a contact's companies."),
    Deviation(("*", "/companies*"), request_fields=("custom_attributes{}",),
              reason="Requests: company custom attributes of the integer, float, boolean and date types are "
                     "sent as numbers and booleans, which the file's string-only map refuses."),
    Deviation(("POST", "/conversations"), request_unchecked=True,
              reason="The file gives the required `from.id` the uuid format, but contact ids are 24 hex "
                     "digits (the file's own contact examples), so no real request validates."),
    Deviation(("*", "/contacts/{contact_id}/notes"), request_unchecked=True,
              reason="The file declares the path parameter contact_id of the notes endpoints as an integer; "
                     "contact ids are 24 hex digits."),
    Deviation(("POST", "/tags"), request_unchecked=True,
              reason="The request body is a oneOf of schemas that overlap (a tag-companies body is also a "
                     "valid untag-companies and create-tag body), so no request matches exactly one."),
    Deviation(("POST", "/events/summaries"), status=200,
              reason="The file declares no success response; Intercom answers 200 with an empty body."),
    Deviation(("*", "/oauth*"), not_in_file=True,
              reason="The OAuth authorize pages live on app.intercom.com, not in the REST API file."),
    Deviation(("POST", "/auth/eagle/token"), not_in_file=True,
              reason="The OAuth token exchange is documented in Intercom's OAuth guide, not in the file."),
    Deviation(("*", "/__emulator/*"), not_in_file=True,
              reason="The emulator's own admin routes; the real API has none."),
)


def _matches(pattern: str, value: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return pattern == value


def deviations_for(method: str, template: str, status: int, query: dict) -> Tuple[Deviation, ...]:
    return tuple(d for d in DEVIATIONS
                 if _matches(d.where[0], method) and _matches(d.where[1], template)
                 and (d.status is None or d.status == status)
                 and (d.condition is None or d.condition not in query))
