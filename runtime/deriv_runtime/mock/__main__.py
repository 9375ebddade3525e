"""``python -m deriv_runtime.mock``: serve the mock Deriv APIs (WebSocket, REST, OAuth) until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import secrets
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core.control import FaultPlan
    from .core.ws import WebSocketMock
    from .deriv.ws_server import MockServer

DESCRIPTION = """\
Serve a mock of the Deriv APIs on your machine, for developing and testing offline.

WebSocket: every call of a generated client package is answered with data valid against its
response schema; ticks, ticks_history, proposal, buy/sell, proposal_open_contract, balance and
transaction behave like the real API (random-walk quotes, a demo account, contracts that settle).
REST (the package's openapi.json): accounts, OTPs for the WebSocket, demo reset, bulk purchase,
payment agents, legacy statement...; Deriv-App-ID and Bearer tokens are checked. OAuth 2.0:
authorization code with PKCE (S256), refresh token rotation. The server prints its URLs and
serves until Ctrl-C.

Faults (every API, from the start, or changed while it runs through the control endpoint) and a
record of what the mock received (a JSON Lines file, the control endpoint), secrets redacted,
let a program's reconnect and error handling be tested from outside, in any language.
"""

EPILOG = """\
endpoints:
  .../ws/demo?otp=...   authenticated (any OTP is accepted unless --require-otp; an OTP from the
                        REST OTP endpoint opens one connection, on its account)
  .../ws/public         public calls only; the others answer AuthorizationRequired
  http://...            the REST API (paths as in openapi.json), /oauth2/authorize, /oauth2/token

examples:
  python -m deriv_runtime.mock
  python -m deriv_runtime.mock --port 8765 --tick-interval 0.5 --seed 42
  python -m deriv_runtime.mock --pat my-token --redirect-uri http://127.0.0.1/oauth/callback
  python -m deriv_runtime.mock --path generated/deriv_options --balance 500
  python -m deriv_runtime.mock --api deribit --spec deribit-api-v2.0.0.openapi.json
  python -m deriv_runtime.mock --api legacy --spec deriv-api-docs-6571f72.zip --token my-token
  python -m deriv_runtime.mock --drop-every 20 --fail buy=RateLimit:2 --record received.jsonl
  python -m deriv_runtime.mock --drop-after 5 --refuse-first 2 --control-port 8799

control endpoint (--control-port; JSON):
  GET    /records?since=N&kind=K   what the mock received: entries with seq, time, kind (connect,
                                   request, invalid, refused, disconnect, http, fault), as --record
  GET    /faults                   the faults in force
  POST   /faults                   {"drop_every": 5, "drop_after": 2.5, "delay": 0.2,
                                   "delay_calls": {"buy": 1}, "fail": ["buy=RateLimit:2"],
                                   "garbage_every": 3, "refuse_handshake": true, "refuse_first": 2,
                                   "silent": true, "drop_mode": "close", "drop_code": 1011}
  DELETE /faults                   clear every fault
  POST   /drop?mode=abort|close    drop every live connection now
  POST   /garbage                  send garbage frames on every live connection now
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deriv_runtime.mock",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--api",
        choices=["deriv", "options", "deribit", "legacy"],
        default="deriv",
        help="which platform to mock (default: %(default)s, the Options API, also named options); "
        "deribit: JSON-RPC over WebSocket (/ws/api/v2) and HTTP (/api/v2/...), from its OpenAPI "
        "document; legacy: Deriv's v3 WebSocket API (/websockets/v3?app_id=...), from its schemas "
        "(--spec: the zip or directory)",
    )
    parser.add_argument(
        "--package",
        default=None,
        help="generated client package to serve (default: deriv_options, or deribit_api with --api deribit)",
    )
    parser.add_argument(
        "--spec",
        default=None,
        metavar="FILE",
        help="--api deribit: the OpenAPI document; --api legacy: the v3 schemas' zip or directory "
        "(instead of --package)",
    )
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="directory to import the package from (repeatable); "
        "./generated/<package> is tried when the package is not installed",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--rest-port",
        type=int,
        default=None,
        help="port of the REST API and OAuth server; 0 picks a free one "
        "(default: the WebSocket port + 1, or 0 with --port 0)",
    )
    parser.add_argument("--no-rest", action="store_true", help="serve the WebSocket API only")
    parser.add_argument(
        "--pat",
        action="append",
        default=[],
        metavar="TOKEN",
        help="accept TOKEN as a personal access token (repeatable; default: one is generated and printed)",
    )
    parser.add_argument(
        "--app-id",
        default=None,
        help="the registered app (Deriv-App-ID, OAuth client_id; default: 10000); --api legacy: the "
        "only app_id accepted (default: any)",
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="--api legacy: accept TOKEN in authorize, with every scope (repeatable; default: one is "
        "generated and printed)",
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        help="an OAuth redirect URI of the app (repeatable; default: http://127.0.0.1/callback, "
        "http://localhost/callback; loopback URIs match on any port)",
    )
    parser.add_argument(
        "--otp-ttl", type=float, default=120.0, metavar="SECONDS", help="OTP lifetime (default: %(default)s)"
    )
    parser.add_argument(
        "--access-token-ttl",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="OAuth access token lifetime (default: %(default)s)",
    )
    parser.add_argument(
        "--tick-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between ticks of the market (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the simulated data (default: %(default)s)"
    )
    parser.add_argument(
        "--balance", type=float, default=10000.0, help="starting account balance (default: %(default)s)"
    )
    parser.add_argument("--currency", default="USD", help="account currency (default: %(default)s)")
    parser.add_argument(
        "--delay", type=float, default=0.0, metavar="SECONDS", help="wait before each answer (default: 0)"
    )
    _fault_arguments(parser)
    parser.add_argument(
        "--require-otp",
        action="store_true",
        help="refuse authenticated connections without the printed OTP or one from the REST OTP "
        "endpoint (single use, --otp-ttl) with HTTP 401",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="logging level on stderr (default: %(default)s)",
    )
    return parser


def _fault_arguments(parser: argparse.ArgumentParser) -> None:
    from .core.control import parse_delay_call, parse_fail

    def typed(parse: Callable[[str], Any]) -> Callable[[str], Any]:
        def convert(text: str) -> Any:
            try:
                return parse(text)
            except ValueError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None

        return convert

    faults = parser.add_argument_group("faults (every API; the control endpoint changes them while running)")
    faults.add_argument(
        "--drop-every",
        type=int,
        metavar="N",
        help="drop each connection after it has sent N messages (a reconnected one too)",
    )
    faults.add_argument(
        "--drop-after",
        type=float,
        metavar="SECONDS",
        help="drop each connection SECONDS after it opened (a reconnected one too)",
    )
    faults.add_argument(
        "--drop-mode",
        choices=["abort", "close"],
        default="abort",
        help="abort: close the TCP connection without a close frame; close: a close frame with "
        "--drop-code (default: %(default)s)",
    )
    faults.add_argument(
        "--drop-code", type=int, default=1011, metavar="CODE", help="close code (default: %(default)s)"
    )
    faults.add_argument(
        "--delay-call",
        action="append",
        default=[],
        type=typed(parse_delay_call),
        metavar="CALL=SECONDS",
        help="wait before answering CALL (repeatable; overrides --delay)",
    )
    faults.add_argument(
        "--fail",
        action="append",
        default=[],
        type=typed(parse_fail),
        metavar="CALL=CODE[:COUNT]",
        help="answer the next COUNT (default 1; *: every) requests to CALL (*: any) with the API "
        "error CODE (options/legacy: a code like RateLimit; deribit: a number like 10028); repeatable",
    )
    faults.add_argument(
        "--garbage-every", type=int, metavar="N", help="send a garbage frame after every N-th message"
    )
    faults.add_argument(
        "--refuse-handshake", action="store_true", help="refuse every WebSocket handshake (HTTP error)"
    )
    faults.add_argument(
        "--refuse-first", type=int, metavar="N", help="refuse the first N WebSocket handshakes, then accept"
    )
    faults.add_argument(
        "--refuse-status",
        type=int,
        metavar="STATUS",
        help="HTTP status of refused handshakes (default: 503)",
    )
    faults.add_argument(
        "--silent",
        action="store_true",
        help="accept connections but answer nothing (no answers, stream messages or pongs)",
    )
    record = parser.add_argument_group("recording")
    record.add_argument(
        "--record",
        metavar="FILE",
        help="append what the mock receives to FILE, one JSON object a line (secrets redacted)",
    )
    record.add_argument(
        "--control-port",
        type=int,
        metavar="PORT",
        help="serve the control endpoint (records, faults) on http://HOST:PORT; 0 picks a free port",
    )


def _fault_plan(args: argparse.Namespace) -> FaultPlan:
    from .core.control import FaultPlan

    return FaultPlan(
        drop_every=args.drop_every,
        drop_after=args.drop_after,
        drop_mode=args.drop_mode,
        drop_code=args.drop_code,
        delay=args.delay or None,
        delay_calls=dict(args.delay_call),
        fail=list(args.fail),
        garbage_every=args.garbage_every,
        refuse_handshake=args.refuse_handshake or None,
        refuse_first=args.refuse_first,
        refuse_status=args.refuse_status,
        silent=args.silent or None,
    )


async def _run(
    mock: WebSocketMock[Any],
    args: argparse.Namespace,
    describe: Callable[[], list[str]],
    listen_error: Callable[[OSError], tuple[str, int]],
) -> int:
    """Set the faults and the recording, start ``mock``, print what it serves, serve until a signal."""
    from .core.control import ControlServer

    try:
        _fault_plan(args).apply(mock)
        journal = mock.record_to(args.record) if args.record else None
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    control = None
    try:
        try:
            await mock.start()
            if args.control_port is not None:
                control = await ControlServer(mock, host=args.host, port=args.control_port).start()
        except OSError as exc:
            await mock.stop()
            message, code = listen_error(exc)
            print(f"error: {message}", file=sys.stderr)
            return code
        for line in describe():
            print(line, flush=True)
        if control is not None:
            print(
                f"  control:   {control.url} (GET /records, GET|POST|DELETE /faults, POST /drop)", flush=True
            )
        if args.record:
            print(f"  recording: {args.record} (JSON Lines)", flush=True)
        for line in _fault_plan(args).describe():
            print(f"  fault:     {line}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            await _wait_for_signal()
        finally:
            if control is not None:
                await control.stop()
            await mock.stop()
    finally:
        if journal is not None:
            journal.close()
    print("Stopped.", flush=True)
    return 0


def _make_importable(package: str, paths: Sequence[str]) -> str | None:
    """Put ``paths`` on sys.path; find ``package``. An error message, or None when importable."""
    for path in reversed(paths):
        sys.path.insert(0, str(Path(path).resolve()))
    if importlib.util.find_spec(package) is not None:
        return None
    fallback = Path.cwd() / "generated" / package
    shipped = any((fallback / package / name).is_file() for name in ("schemas.json", "openapi.json"))
    if shipped or (fallback / package / "schemas").is_dir():
        sys.path.insert(0, str(fallback))
        return None
    return (
        f"cannot import the generated package {package!r}. Generate it (deriv-codegen generate), then "
        f"install it (pip install -e generated/{package}) or pass --path generated/{package} "
        "(--api deribit or legacy: or --spec with the schemas)."
    )


def _make_server(args: argparse.Namespace, pats: list[str]) -> MockServer:
    from .deriv.mock_deriv import DEFAULT_APP_ID, DEFAULT_REDIRECT_URIS, MockDeriv
    from .deriv.ws_server import MockServer

    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "tick_interval": args.tick_interval,
        "seed": args.seed,
        "balance": args.balance,
        "currency": args.currency,
        "delay": args.delay,
        "require_otp": args.require_otp,
        "otp": "mock-otp",
        "otp_ttl": args.otp_ttl,
    }
    if args.no_rest:
        return MockServer(args.package, **options)
    rest_port = args.rest_port
    if rest_port is None:
        rest_port = args.port + 1 if args.port else 0
    return MockDeriv(
        args.package,
        rest_port=rest_port,
        app_id=args.app_id or DEFAULT_APP_ID,
        redirect_uris=args.redirect_uri or DEFAULT_REDIRECT_URIS,
        pats=pats,
        access_token_ttl=args.access_token_ttl,
        **options,
    )


async def _serve_deribit(args: argparse.Namespace) -> int:
    from .deribit.mock_deribit import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MockDeribit

    rest_port = args.rest_port if args.rest_port is not None else (args.port + 1 if args.port else 0)
    try:
        mock = MockDeribit(
            args.spec,
            package=None if args.spec else args.package,
            host=args.host,
            port=args.port,
            http_port=rest_port,
            tick_interval=args.tick_interval,
            seed=args.seed,
            delay=args.delay,
        )
    except (LookupError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def describe() -> list[str]:
        return [
            f"Deribit mock server: {len(mock.methods)} methods, {len(mock.spec.channels)} channels",
            f"  WebSocket: {mock.ws_url}\n  HTTP:      {mock.http_url}",
            f"  public/auth client_credentials: {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET}",
        ]

    return await _run(mock, args, describe, lambda exc: (str(exc), 2))


async def _serve_legacy(args: argparse.Namespace) -> int:
    from .legacy.accounts import ALL_SCOPES
    from .legacy.mock_legacy import MockLegacy

    tokens = list(args.token) or [f"mock-{secrets.token_urlsafe(12)}"]
    try:
        mock = MockLegacy(
            args.spec,
            package=None if args.spec else args.package,
            app_ids=None if args.app_id is None else [args.app_id],
            tokens=dict.fromkeys(tokens, ALL_SCOPES),
            host=args.host,
            port=args.port,
            tick_interval=args.tick_interval,
            seed=args.seed,
            balance=args.balance,
            currency=args.currency,
            delay=args.delay,
        )
    except (LookupError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def describe() -> list[str]:
        lines = [
            f"Deriv v3 mock server: {len(mock.calls)} calls ({mock.spec.source})",
            f"  WebSocket: {mock.url}",
            f"  app_id:    {'any' if args.app_id is None else args.app_id} (query parameter, required)",
        ]
        if not args.token:
            lines.append(f"  token:     {tokens[0]} (authorize; every scope, {mock.account.loginid})")
        return lines

    return await _run(mock, args, describe, lambda exc: (str(exc), 2))


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def _serve(args: argparse.Namespace) -> int:
    from .deriv.mock_deriv import MockDeriv

    if args.api == "deribit":
        return await _serve_deribit(args)
    if args.api == "legacy":
        return await _serve_legacy(args)

    pats = list(args.pat) or ([] if args.no_rest else [f"mock-pat-{secrets.token_urlsafe(12)}"])
    try:
        server = _make_server(args, pats)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def describe() -> list[str]:
        schemas = server.schemas
        rest = f", {len(server.rest.operations)} REST operations" if isinstance(server, MockDeriv) else ""
        lines = [
            f"Deriv mock server: {server.package} {schemas.version} ({len(server.calls)} calls{rest}), "
            f"seed {server.seed}, a tick every {server.tick_interval:g} s"
        ]
        if isinstance(server, MockDeriv):
            lines += [
                f"  REST API:        {server.rest_url}",
                f"  OAuth authorize: {server.oauth_authorize_url}",
                f"  OAuth token:     {server.oauth_token_url}",
                f"  app id:          {server.app_id} (Deriv-App-ID header, OAuth client_id)",
            ]
            if not args.pat:
                lines.append(f"  PAT:             {pats[0]} (Authorization: Bearer ...)")
            lines.append(f"  demo account:    {server.demo_account_id}")
        lines += [f"  authenticated:   {server.url}", f"  public:          {server.public_url}"]
        return lines

    return await _run(
        server, args, describe, lambda exc: (f"cannot listen on {args.host}: {exc.strerror or exc}", 1)
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.api == "options":
        args.api = "deriv"
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.package is None:
        args.package = {"deribit": "deribit_api", "legacy": "deriv_v3"}.get(args.api, "deriv_options")
    problem = None if args.spec else _make_importable(args.package, args.path)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:  # platforms without loop signal handlers
        print("Stopped.", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
