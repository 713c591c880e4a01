"""Everything one running emulator holds: workspaces by token, knobs, counters, request log, OAuth."""
from __future__ import annotations

import random
import time
from collections import Counter, deque
from typing import Dict, Optional

from intercom_fdw.emulator.backend import Runtime
from intercom_fdw.emulator.config import EmulatorConfig
from intercom_fdw.emulator.ratelimit import RateLimiter
from intercom_fdw.emulator.seed import seed_workspace
from intercom_fdw.emulator.workspace import Workspace

REQUEST_LOG_SIZE = 1000


class EmulatorState:
    def __init__(self, config: EmulatorConfig, clock=time.time):
        self.config = config
        self.knobs = config.knobs
        self.runtime = Runtime(self.knobs, clock)
        self.counters: Counter = Counter()
        self.requests: deque = deque(maxlen=REQUEST_LOG_SIZE)
        self.oauth_codes: Dict[str, tuple] = {}  # code -> (workspace, admin id, client id, redirect URL)
        self.workspaces: list = []
        self.by_token: Dict[str, Workspace] = {}
        self.reset()

    def reset(self) -> None:
        """Start over as from the configuration: reseeded workspaces (tokens issued by OAuth are
        forgotten), fresh rate-limit slices, and fault/latency draws from the seed again. Knobs keep
        their current values."""
        self.workspaces = [seed_workspace([token], seed, sizes) for token, seed, sizes in
                           self.config.workspace_plans()]
        self.by_token = {token: ws for ws in self.workspaces for token in ws.tokens}
        self.oauth_codes.clear()
        self.rate_limiter = RateLimiter()
        self.chance = random.Random(self.config.seed)  # fault injection draws: reproducible per seed

    def rate_headers(self, token: str = "") -> dict:
        """Rate-limit headers for a response that does not use up a call (admin routes, OAuth, 401)."""
        return self.rate_limiter.peek(token, self.runtime.clock(), self.knobs.rate_limit_per_10s).headers()

    def workspace_for(self, token: Optional[str]) -> Optional[Workspace]:
        return self.by_token.get(token) if token else None

    def add_token(self, ws: Workspace, token: str, admin_id: str) -> None:
        ws.tokens.append(token)
        ws.token_admins[token] = admin_id
        self.by_token[token] = ws
