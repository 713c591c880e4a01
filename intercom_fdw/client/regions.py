"""Which Intercom host a server talks to: shared by the FDW's server options and the SQL functions."""
from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from intercom_fdw.errors import ConfigurationError

# Intercom hosts each workspace in one region; a token only works against its region's host.
REGION_BASE_URLS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
DEFAULT_REGION = "us"


def api_base_url(region: Optional[str], api_url: Optional[str]) -> str:
    """The base URL for a server: `api_url` when given (emulator, proxy), else the region's host.

    Raises ConfigurationError for an unknown region or an api_url that is not an http(s) URL.
    """
    if api_url is not None and api_url.strip():
        url = api_url.strip()
        parts = urlsplit(url)
        shown = repr(url) if "@" not in url else "(not shown: it may hold credentials)"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"invalid api_url {shown}: not an http(s) URL",
                hint="use a URL like 'https://api.intercom.io' or 'http://127.0.0.1:8080', "
                "or drop api_url and set region",
            )
        # Request paths are appended to the base URL: a query or fragment would swallow them, and
        # credentials in it would be shown wherever the URL is (errors, EXPLAIN).
        extra = [what for what, present in (("a query", "?" in url), ("a fragment", "#" in url),
                                             ("credentials", "@" in parts.netloc)) if present]
        if extra:
            raise ConfigurationError(
                f"invalid api_url: it has {' and '.join(extra)}",
                hint="api_url is a base URL such as 'https://proxy.example.com/intercom': scheme, host, "
                "optional port and path, nothing after the path",
            )
        if any(segment in (".", "..") for segment in parts.path.split("/")):
            raise ConfigurationError(f"invalid api_url {shown}: its path has a '.' or '..' segment",
                                     hint="write the base path without dot segments")
        return url.rstrip("/")
    name = (region or DEFAULT_REGION).strip().lower()
    try:
        return REGION_BASE_URLS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown Intercom region {region!r}",
            hint="valid regions: " + ", ".join(sorted(REGION_BASE_URLS))
            + " (the region where the workspace is hosted); or set api_url",
        ) from None
