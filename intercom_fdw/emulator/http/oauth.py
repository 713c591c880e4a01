""""Sign in with Intercom": the authorize page and the token exchange.

GET /oauth?client_id=..&state=..[&redirect_uri=..] shows a page with email and password fields, an
"Authorize access" and a "Cancel" button; POST /oauth/authorize signs the admin in and redirects to the
redirect URL with `code` and `state` (Cancel: `error=access_denied` and `state`). The redirect URL is
the app's first registered one unless `redirect_uri` names another registered one exactly; any other
value is refused on the page itself, never redirected to (an open redirect would hand a code to
whoever wrote the link); POST /auth/eagle/token exchanges code + client_id + client_secret for
`{"token", "access_token", "token_type": "Bearer"}` (the token never expires, as Intercom's do not).
"""
from __future__ import annotations

import html
import secrets
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Route

from intercom_fdw.emulator.apierror import ApiError
from intercom_fdw.emulator.http.responses import ApiResponse
from intercom_fdw.emulator.state import EmulatorState

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in with Intercom</title></head>
<body>
<h1>Sign in to Intercom</h1>
<p>{app} would like to access your Intercom workspace.</p>
{error}
<form method="post" action="/oauth/authorize">
  <input type="hidden" name="client_id" value="{client_id}">
  <input type="hidden" name="state" value="{state}">
  <input type="hidden" name="redirect_uri" value="{redirect_uri}">
  <label>Email <input type="email" name="email" required></label>
  <label>Password <input type="password" name="password" required></label>
  <button type="submit" name="authorize" value="1">Authorize access</button>
</form>
<form method="post" action="/oauth/authorize">
  <input type="hidden" name="client_id" value="{client_id}">
  <input type="hidden" name="state" value="{state}">
  <input type="hidden" name="redirect_uri" value="{redirect_uri}">
  <button type="submit" name="deny" value="1">Cancel</button>
</form>
</body></html>
"""


def _page(headers: dict, client_id: str, state: str, redirect_uri: str, error: str = "",
          status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(app=html.escape(client_id), client_id=html.escape(client_id),
                                     state=html.escape(state), redirect_uri=html.escape(redirect_uri),
                                     error=f'<p class="error">{html.escape(error)}</p>' if error else ""),
                        status_code=status, headers=headers)


def _unknown_client(headers: dict) -> HTMLResponse:
    return HTMLResponse("<p>Unknown client_id: this app is not registered.</p>", status_code=400, headers=headers)


def _bad_redirect(headers: dict) -> HTMLResponse:
    return HTMLResponse("<p>redirect_uri is not a redirect URL registered for this app (it must match one "
                        "exactly).</p>", status_code=400, headers=headers)


def _redirect_to(app, asked: str):
    """The redirect URL for a sign-in: the one asked for if registered (exact match), the default if none."""
    if not asked:
        return app.redirect_uris[0]
    return asked if asked in app.redirect_uris else None


def _error(error: ApiError, headers: dict) -> ApiResponse:
    return ApiResponse.json(error.status, error.body(secrets.token_hex(8)), headers)


async def _fields(request: Request) -> dict:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = orjson.loads(raw or b"{}")
            return parsed if isinstance(parsed, dict) else {}
        except orjson.JSONDecodeError:
            return {}
    return dict(parse_qsl(raw.decode("utf-8", "replace")))


def routes(state: EmulatorState) -> list:
    apps = lambda: {app.client_id: app for app in state.config.oauth_apps}  # noqa: E731

    async def authorize_page(request: Request):
        headers = state.rate_headers()
        client_id = request.query_params.get("client_id", "")
        app = apps().get(client_id)
        if app is None:
            return _unknown_client(headers)
        redirect_uri = _redirect_to(app, request.query_params.get("redirect_uri", ""))
        if redirect_uri is None:
            return _bad_redirect(headers)
        return _page(headers, client_id, request.query_params.get("state", ""), redirect_uri)

    async def authorize(request: Request):
        headers = state.rate_headers()
        form = await _fields(request)
        client_id, oauth_state = form.get("client_id", ""), form.get("state", "")
        app = apps().get(client_id)
        if app is None:
            return _unknown_client(headers)
        redirect_uri = _redirect_to(app, form.get("redirect_uri", ""))
        if redirect_uri is None:
            return _bad_redirect(headers)
        if form.get("deny"):
            return RedirectResponse(f"{redirect_uri}?{urlencode({'error': 'access_denied', 'state': oauth_state})}",
                                    status_code=302, headers=headers)
        email = (form.get("email") or "").strip().lower()
        found = None
        for ws in state.workspaces:
            for admin in ws.admins.values():
                if admin["email"].lower() == email:
                    found = (ws, admin["id"])
        if found is None or not form.get("password"):
            return _page(headers, client_id, oauth_state, redirect_uri, "Email or password is incorrect.", status=401)
        code = secrets.token_urlsafe(16)
        state.oauth_codes[code] = (found[0], found[1], client_id, redirect_uri)
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': oauth_state})}",
                                status_code=302, headers=headers)

    async def token(request: Request):
        headers = state.rate_headers()
        form = await _fields(request)
        app = apps().get(form.get("client_id", ""))
        if app is None or not secrets.compare_digest(app.client_secret, form.get("client_secret", "")):
            return _error(ApiError(401, "unauthorized", "client_id or client_secret is invalid"), headers)
        grant = state.oauth_codes.get(form.get("code", ""))
        if grant is None or grant[2] != app.client_id:
            return _error(ApiError(400, "invalid_grant", "code is invalid, expired or already used"), headers)
        del state.oauth_codes[form["code"]]  # a code works once, even when this exchange is refused below
        ws, admin_id, _client, redirect_uri = grant
        if form.get("redirect_uri") and form["redirect_uri"] != redirect_uri:  # RFC 6749 4.1.3, when sent
            return _error(ApiError(400, "invalid_grant", "redirect_uri differs from the sign-in's"), headers)
        access_token = "dG9r" + secrets.token_urlsafe(40)
        state.add_token(ws, access_token, admin_id)
        return ApiResponse.json(200, {"token": access_token, "access_token": access_token,
                                      "token_type": "Bearer"}, headers)

    return [
        Route("/oauth", authorize_page, methods=["GET"]),
        Route("/oauth/authorize", authorize, methods=["POST"]),
        Route("/auth/eagle/token", token, methods=["POST"]),
    ]
