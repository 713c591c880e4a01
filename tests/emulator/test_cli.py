"""`intercom-fdw emulator`: it starts a seeded workspace a person can curl, and says how."""
import signal
import socket
import subprocess
import sys
import time

import httpx

from intercom_fdw.tools.cli import SUBCOMMANDS, build_parser, main


def test_emulator_subcommand_is_in_the_dispatch_table():
    assert "emulator" in SUBCOMMANDS
    args = build_parser().parse_args(["emulator", "--port", "0", "--extra-workspace", "a", "--extra-workspace", "b",
                                      "--latency-ms", "5"])
    assert args.extra_workspace == ["a", "b"] and args.latency_ms == 5


def test_oauth_apps_from_the_command_line():
    from intercom_fdw.tools.cli import _oauth_app

    app = _oauth_app("my-app:s3cret:https://example.com/cb")
    assert (app.client_id, app.client_secret, app.redirect_uri) == ("my-app", "s3cret", "https://example.com/cb")
    assert main(["emulator", "--oauth-app", "broken"]) == 2
    several = _oauth_app("my-app:s3cret:https://example.com/cb,https://127.0.0.1:8765/callback")
    assert several.redirect_uris == ("https://example.com/cb", "https://127.0.0.1:8765/callback")
    assert main(["emulator", "--oauth-app", "my-app:s3cret:http://127.0.0.1:8765/callback"]) == 2  # not https


def test_cli_serves_a_seeded_workspace():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "intercom_fdw.tools.cli", "emulator", "--port", str(port),
                                "--token", "cli-token", "--contacts", "25", "--seed", "3"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first_line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first_line
        assert "curl" in process.stdout.readline()
        for _ in range(100):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/contacts",
                                     headers={"Authorization": "Bearer cli-token"})
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response.json()["total_count"] == 25
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(10)
