"""Running the emulator: in a background thread (tests, the demo) or in the foreground (the CLI)."""
from __future__ import annotations

import socket
import threading
import time
from typing import Optional

import uvicorn

from intercom_fdw.emulator.config import EmulatorConfig
from intercom_fdw.emulator.http.app import build_app
from intercom_fdw.emulator.state import EmulatorState

LOCALHOST = "127.0.0.1"


def _uvicorn_config(app, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")


class RunningEmulator:
    """An emulator serving in a daemon thread: `.url`, `.token`, `.stop()`."""

    def __init__(self, state: EmulatorState, server: uvicorn.Server, thread: threading.Thread, port: int):
        self.state = state
        self.config = state.config
        self.token = state.config.token
        self.url = f"http://{LOCALHOST}:{port}"
        self.port = port
        self._server = server
        self._thread = thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> "RunningEmulator":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_in_thread(config: Optional[EmulatorConfig] = None, port: int = 0,
                    log_level: str = "warning") -> RunningEmulator:
    """Seed, bind 127.0.0.1:`port` (0 picks a free port) and serve in a daemon thread."""
    state = EmulatorState(config or EmulatorConfig())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOCALHOST, port))
    server = uvicorn.Server(_uvicorn_config(build_app(state), log_level))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="intercom-emulator",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Intercom emulator did not start; see the log above")
        time.sleep(0.01)
    return RunningEmulator(state, server, thread, sock.getsockname()[1])


def serve(config: EmulatorConfig, host: str, port: int, log_level: str = "info", on_ready=None) -> None:
    """Serve in the foreground until interrupted."""
    state = EmulatorState(config)
    if on_ready is not None:
        on_ready(state)
    uvicorn.Server(uvicorn.Config(build_app(state), host=host, port=port, log_level=log_level,
                                  access_log=False, lifespan="off")).run()
