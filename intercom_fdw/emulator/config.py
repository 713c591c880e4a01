"""What an emulator starts with: seed, workspace sizes, tokens, OAuth apps, and the realism knobs.

Knobs are the part that can change while the emulator runs (`PATCH /__emulator/config`); everything
else is read once when the workspaces are seeded (and again by `POST /__emulator/reset`).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple
from urllib.parse import urlsplit

# Intercom's private-app limit is 10,000 calls a minute, enforced in 10-second slices
# (intercom-api-notes.md, "Rate limits"); 1,666 per slice is that limit.
DEFAULT_RATE_LIMIT_PER_10S = 1666


@dataclass
class Knobs:
    """Realism knobs, settable at start and at run time."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    rate_limit_per_10s: int = DEFAULT_RATE_LIMIT_PER_10S
    fault_rate: float = 0.0  # share of API requests answered 500, 502 or 503
    drop_rate: float = 0.0  # share of API requests whose connection is cut mid-response
    drop_route: str = ""  # when set ("GET /companies/scroll"), drop_rate applies to this route only
    slow_body_ms: float = 0.0  # time spread over sending each response body
    custom_attribute_delay_s: float = 0.0  # list/search show old custom attributes this long
    search_index_delay_s: float = 0.0  # contact search misses contacts created less than this ago
    timezone: str = "UTC"  # workspace time zone for day-granular search on dates
    # seconds the workspace's clock is ahead of the machine's (negative: behind): the created_at and
    # updated_at it stamps, for clock skew between Intercom and the database
    clock_offset_s: float = 0.0

    def update(self, changes: dict) -> None:
        """Apply a partial update; raises ValueError naming the bad knob."""
        names = {f.name: f for f in dataclasses.fields(self)}
        for key, value in changes.items():
            if key not in names:
                raise ValueError(f"unknown knob {key!r}; known knobs: {', '.join(sorted(names))}")
            current = getattr(self, key)
            if isinstance(current, str):
                if not isinstance(value, str):
                    raise ValueError(f"knob {key!r} takes a string")
                if key == "timezone":
                    _check_timezone(value)
                if key == "drop_route" and value and not _ROUTE.match(value):
                    raise ValueError("knob 'drop_route' is a route as the counters name it, "
                                     "e.g. 'GET /companies/scroll' (or '' for every route)")
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"knob {key!r} takes a number")
            elif value < 0 and key != "clock_offset_s":
                raise ValueError(f"knob {key!r} must not be negative")
            elif key in ("fault_rate", "drop_rate") and value > 1:
                raise ValueError(f"knob {key!r} is a share between 0 and 1")
            setattr(self, key, type(current)(value))

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


_ROUTE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) /\S*$")


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except Exception:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as 'Europe/Paris'") from None


@dataclass
class WorkspaceSizes:
    """How many objects of each kind a seeded workspace holds. None: derived from `contacts`."""

    contacts: int = 300
    companies: Optional[int] = None
    conversations: Optional[int] = None
    tickets: Optional[int] = None
    articles: Optional[int] = None

    def resolved(self) -> "WorkspaceSizes":
        c = self.contacts
        return WorkspaceSizes(
            contacts=c,
            companies=self.companies if self.companies is not None else max(4, c // 8),
            conversations=self.conversations if self.conversations is not None else max(4, c * 2 // 5),
            tickets=self.tickets if self.tickets is not None else max(3, c // 5),
            articles=self.articles if self.articles is not None else 20,
        )


@dataclass
class OAuthApp:
    """A registered "Sign in with Intercom" app: its redirect URLs, the first one the default.

    As in Intercom's Developer Hub, a redirect URL must use HTTPS ("Redirect URLs must use HTTPS",
    Intercom's "Setting up OAuth"); the docs make no exception for localhost, and neither does the
    emulator, so a client that signs in here also signs in where the rule is applied strictly.
    """

    client_id: str
    client_secret: str
    redirect_uri: str
    more_redirect_uris: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.more_redirect_uris = tuple(self.more_redirect_uris)
        for uri in self.redirect_uris:
            problem = redirect_url_problem(uri)
            if problem:
                raise ValueError(f"redirect URL {uri!r} of OAuth app {self.client_id!r}: {problem}")

    @property
    def redirect_uris(self) -> Tuple[str, ...]:
        return (self.redirect_uri,) + self.more_redirect_uris


def redirect_url_problem(uri: str) -> Optional[str]:
    """Why Intercom would not register `uri` as a redirect URL, or None."""
    parts = urlsplit(uri or "")
    if parts.scheme != "https":
        return "redirect URLs must use HTTPS"
    if not parts.hostname:
        return "a redirect URL needs a host"
    if parts.fragment:
        return "a redirect URL may not have a fragment"
    return None


@dataclass
class EmulatorConfig:
    seed: int = 42
    token: str = "test-token"
    contacts: int = 300
    companies: Optional[int] = None
    conversations: Optional[int] = None
    tickets: Optional[int] = None
    articles: Optional[int] = None
    # More workspaces: each token gets its own, smaller, differently seeded workspace.
    extra_workspace_tokens: List[str] = field(default_factory=list)
    extra_workspace_contacts: int = 50
    oauth_apps: List[OAuthApp] = field(
        default_factory=lambda: [OAuthApp("emulator-client", "emulator-secret", "https://127.0.0.1/callback")]
    )
    knobs: Knobs = field(default_factory=Knobs)

    def __post_init__(self) -> None:
        if isinstance(self.knobs, dict):
            knobs = Knobs()
            knobs.update(self.knobs)
            self.knobs = knobs

    def sizes(self) -> WorkspaceSizes:
        return WorkspaceSizes(
            self.contacts, self.companies, self.conversations, self.tickets, self.articles
        ).resolved()

    def workspace_plans(self) -> List[tuple]:
        """(token, seed, sizes) for every workspace to seed, the main one first."""
        plans = [(self.token, self.seed, self.sizes())]
        for i, token in enumerate(self.extra_workspace_tokens, start=1):
            plans.append((token, self.seed + 1000 * i, WorkspaceSizes(self.extra_workspace_contacts).resolved()))
        return plans
