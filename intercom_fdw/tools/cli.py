"""`intercom-fdw` command line: one subcommand per entry in SUBCOMMANDS.

Each subcommand is (help text, function adding its arguments, function running it); add one by adding
an entry. Heavy imports happen inside the run functions so `intercom-fdw --help` stays fast.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Dict, List, Optional, Tuple


def _emulator_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data (default 42)")
    parser.add_argument("--token", default="test-token", help="access token of the seeded workspace")
    parser.add_argument("--contacts", type=int, default=300, help="contacts in the seeded workspace")
    parser.add_argument("--companies", type=int, help="companies (default: derived from --contacts)")
    parser.add_argument("--conversations", type=int, help="conversations (default: derived from --contacts)")
    parser.add_argument("--tickets", type=int, help="tickets (default: derived from --contacts)")
    parser.add_argument("--articles", type=int, help="help center articles (default 20)")
    parser.add_argument("--extra-workspace", action="append", default=[], metavar="TOKEN",
                        help="add another, separately seeded workspace with this token (repeatable)")
    parser.add_argument("--oauth-app", action="append", default=[], metavar="CLIENT_ID:SECRET:REDIRECT_URI[,...]",
                        help="register an OAuth app for 'Sign in with Intercom' with its https redirect URLs, "
                             "the first the default (repeatable; the default app "
                             "emulator-client:emulator-secret:https://127.0.0.1/callback stays registered)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request")
    parser.add_argument("--latency-jitter-ms", type=float, default=0.0, help="random +/- jitter on the latency")
    parser.add_argument("--rate-limit-per-10s", type=int, help="calls per token per 10 s (default 1666)")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of 500/502/503 answers (0..1)")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped connections (0..1)")
    parser.add_argument("--drop-route", default="", help="apply --drop-rate to this route only, "
                                                         "e.g. 'GET /companies/scroll'")
    parser.add_argument("--slow-body-ms", type=float, default=0.0, help="time spread over sending a body")
    parser.add_argument("--custom-attribute-delay-s", type=float, default=0.0,
                        help="how long list/search show old custom attribute values after an update")
    parser.add_argument("--search-index-delay-s", type=float, default=0.0,
                        help="how long contact search misses a newly created contact")
    parser.add_argument("--timezone", default="UTC", help="workspace time zone for day-granular date search")


def _oauth_app(spec: str):
    from intercom_fdw.emulator.config import OAuthApp

    client_id, _, rest = spec.partition(":")
    secret, _, redirect_uris = rest.partition(":")
    uris = redirect_uris.split(",")
    if not (client_id and secret and all(uris)):
        raise ValueError("--oauth-app takes CLIENT_ID:SECRET:REDIRECT_URI[,REDIRECT_URI...]")
    return OAuthApp(client_id, secret, uris[0], tuple(uris[1:]))  # refuses a redirect URL Intercom would


def _run_emulator(args: argparse.Namespace) -> int:
    from intercom_fdw.emulator.config import EmulatorConfig
    from intercom_fdw.emulator.server import serve

    knobs = {"latency_ms": args.latency_ms, "latency_jitter_ms": args.latency_jitter_ms,
             "fault_rate": args.fault_rate, "drop_rate": args.drop_rate, "drop_route": args.drop_route,
             "slow_body_ms": args.slow_body_ms,
             "custom_attribute_delay_s": args.custom_attribute_delay_s, "timezone": args.timezone,
             "search_index_delay_s": args.search_index_delay_s}
    if args.rate_limit_per_10s is not None:
        knobs["rate_limit_per_10s"] = args.rate_limit_per_10s
    try:
        config = EmulatorConfig(seed=args.seed, token=args.token, contacts=args.contacts, companies=args.companies,
                                conversations=args.conversations, tickets=args.tickets, articles=args.articles,
                                extra_workspace_tokens=args.extra_workspace, knobs=knobs)
        config.oauth_apps += [_oauth_app(spec) for spec in args.oauth_app]
    except ValueError as error:
        print(f"intercom-fdw emulator: {error}", file=sys.stderr)
        return 2
    base = f"http://{args.host}:{args.port}"

    def announce(state) -> None:
        print(f"Intercom emulator: {base}  ({args.contacts} contacts, seed {args.seed}, "
              f"{len(state.workspaces)} workspace(s))")
        print(f"  curl -H 'Authorization: Bearer <token>' -H 'Intercom-Version: 2.14' {base}/contacts?per_page=5")
        print(f"  tokens: --token and --extra-workspace values; admin routes: {base}/__emulator/counters, "
              f"{base}/__emulator/config")
        sys.stdout.flush()

    serve(config, args.host, args.port, on_ready=announce)
    return 0


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token-env", metavar="VAR",
                        help="environment variable holding a real workspace's access token (kept off the command "
                             "line; default: use the seeded emulator)")
    parser.add_argument("--region", choices=("us", "eu", "au"), help="the real workspace's region (default us)")
    parser.add_argument("--api-url", help="an Intercom API base URL (overrides --region)")
    parser.add_argument("--contacts", type=int, default=500, help="contacts in the emulator's workspace")
    parser.add_argument("--seed", type=int, default=42, help="seed of the emulator's data")
    parser.add_argument("--wait", action=argparse.BooleanOptionalAction, default=None,
                        help="keep PostgreSQL running for psql after the tour (default: when run in a terminal)")


def _run_demo(args: argparse.Namespace) -> int:
    from intercom_fdw import errors
    from intercom_fdw.tools.demo import run_demo
    from intercom_fdw.tools.token_check import token_from_environment

    try:
        token = token_from_environment(args.token_env) if args.token_env else None
        return run_demo(token=token, region=args.region, api_url=args.api_url, contacts=args.contacts,
                        seed=args.seed, wait=args.wait)
    except errors.ConfigurationError as error:
        print(f"intercom-fdw demo: {error.message}\n  HINT: {error.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the tour's end (during the wait it is the normal end)
        print("intercom-fdw demo: cancelled; the emulator and PostgreSQL are stopped", file=sys.stderr)
        return 130


def _sign_in_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """The arguments of a "Sign in with Intercom" (login, and setup --login)."""
    parser.add_argument("--client-id", required=required, help="the client id of your Intercom app")
    parser.add_argument("--client-secret", help="its client secret (default: $INTERCOM_CLIENT_SECRET, else asked "
                                                "without echo; the environment keeps it out of `ps`)")
    parser.add_argument("--redirect-uri", help="a redirect URL registered in the app (Intercom requires https); the "
                                               "one-shot HTTPS callback server listens on its port on 127.0.0.1 "
                                               "(default https://127.0.0.1:8765/callback); with --paste any "
                                               "registered URL (default: the app's first)")
    parser.add_argument("--paste", action="store_true",
                        help="no local server: paste the address the browser was redirected to")
    parser.add_argument("--authorize-url", help="authorization page (default Intercom's; e.g. the emulator's /oauth)")
    parser.add_argument("--token-url", help="token endpoint (default Intercom's /auth/eagle/token)")
    parser.add_argument("--timeout", type=float, help="seconds to wait for the browser to come back (default 300)")
    parser.add_argument("--no-browser", action="store_true", help="only print the URL, do not open a browser")


def _login_arguments(parser: argparse.ArgumentParser) -> None:
    _sign_in_arguments(parser)
    parser.add_argument("--dsn", help="libpq connection string of the database to write the user mapping into")
    parser.add_argument("--server", help="the intercom_fdw foreign server of the user mapping (with --dsn)")
    parser.add_argument("--role", help="the role of the user mapping: a role name or PUBLIC (default CURRENT_USER)")
    parser.add_argument("--print-token", action="store_true", help="print the access token on stdout")


def _run_login(args: argparse.Namespace) -> int:
    from intercom_fdw.tools.login import run

    return run(args)


def _replicate_arguments(parser: argparse.ArgumentParser) -> None:
    from intercom_fdw.replication.cli import add_arguments

    add_arguments(parser)


def _run_replicate(args: argparse.Namespace) -> int:
    from intercom_fdw.replication.cli import run

    return run(args)


def _sync_arguments(parser: argparse.ArgumentParser) -> None:
    from intercom_fdw.sync.cli import add_arguments

    add_arguments(parser)


def _run_sync(args: argparse.Namespace) -> int:
    from intercom_fdw.sync.cli import run

    return run(args)


def _setup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dsn", required=True, help="libpq connection string of the database to set up")
    token = parser.add_mutually_exclusive_group(required=True)
    token.add_argument("--token-env", metavar="VAR",
                       help="environment variable holding the access token (kept off the command line)")
    token.add_argument("--login", action="store_true",
                       help="get the token by signing in with Intercom in a browser (--client-id and the "
                            "sign-in options of `intercom-fdw login`)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--region", choices=("us", "eu", "au"), help="the workspace's region (default us)")
    where.add_argument("--api-url", help="an Intercom API base URL instead of a region (the emulator, a proxy)")
    parser.add_argument("--schema", default="intercom", help="schema of the foreign tables (default intercom)")
    parser.add_argument("--server", default="intercom", help="name of the foreign server (default intercom)")
    parser.add_argument("--refresh", action="store_true",
                        help="catch an imported schema up with the workspace: ALTER/IMPORT the columns of new "
                             "custom attributes and the tables of new ticket types (views keep working)")
    parser.add_argument("--no-check", action="store_true",
                        help="write the token into the user mapping without asking Intercom first (by default "
                             "setup checks a new or changed token with GET /me and writes nothing when Intercom "
                             "rejects it or cannot be reached)")
    _sign_in_arguments(parser.add_argument_group("sign-in (with --login)"), required=False)


def _run_setup(args: argparse.Namespace) -> int:
    from intercom_fdw.tools.setup import run

    return run(args)


def _doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dsn", required=True, help="libpq connection string of the database to check")
    parser.add_argument("--server", default="intercom", help="the intercom_fdw foreign server (default intercom)")
    parser.add_argument("--schema", help="schema of the foreign tables (default: the one holding the server's tables)")


def _run_doctor(args: argparse.Namespace) -> int:
    from intercom_fdw.tools.doctor import run

    return run(args)


Subcommand = Tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

SUBCOMMANDS: Dict[str, Subcommand] = {
    "emulator": ("run the Intercom API emulator (a seeded, stateful fake of api.intercom.io)",
                 _emulator_arguments, _run_emulator),
    "demo": ("tour intercom_fdw: emulator (or a real workspace), throwaway PostgreSQL, IMPORT FOREIGN SCHEMA, "
             "queries with their API plans", _demo_arguments, _run_demo),
    "setup": ("extensions, server, user mapping and IMPORT FOREIGN SCHEMA in one idempotent command; --refresh "
              "adds what the workspace gained since",
              _setup_arguments, _run_setup),
    "doctor": ("check what a working intercom schema needs (runtime, extensions, package, token, drift), "
               "with the fix for each problem; exit 1 when one fails", _doctor_arguments, _run_doctor),
    "login": ("\"Sign in with Intercom\" (OAuth) and write the access token into a user mapping",
              _login_arguments, _run_login),
    "replicate": ("replicate Intercom into local tables: CALL intercom_fdw.replicate() with progress and a summary",
                  _replicate_arguments, _run_replicate),
    "sync": ("synchronize replica tables with Intercom both ways: CALL intercom_fdw.sync() with progress and a "
             "summary; exit 1 when a change was rejected", _sync_arguments, _run_sync),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intercom-fdw", description="intercom_fdw tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments, _run) in SUBCOMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return SUBCOMMANDS[args.command][2](args)
    except KeyboardInterrupt:
        # Ctrl-C where the subcommand has nothing to say of it (doctor's checks: they write nothing): a
        # line instead of Python's traceback, and the status a shell gives a process SIGINT ended.
        print(f"intercom-fdw {args.command}: canceled (Ctrl-C)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
