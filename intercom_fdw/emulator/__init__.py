"""A stateful Intercom REST API emulator (API version 2.14), held to Intercom's OpenAPI file.

    from intercom_fdw.emulator import EmulatorConfig, start_in_thread
    server = start_in_thread(EmulatorConfig(seed=42, token="test-token", contacts=300), port=0)
    server.url, server.token; server.stop()

It never imports the FDW: the two meet only over HTTP. See README.md beside this file.
"""
from intercom_fdw.emulator.config import EmulatorConfig, Knobs, OAuthApp
from intercom_fdw.emulator.server import RunningEmulator, start_in_thread

__all__ = ["EmulatorConfig", "Knobs", "OAuthApp", "RunningEmulator", "start_in_thread"]
