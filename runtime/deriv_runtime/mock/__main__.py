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
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        choices=["deriv", "deribit", "legacy"],
        default="deriv",
        help="which platform to mock (default: %(default)s); deribit: JSON-RPC over WebSocket "
        "(/ws/api/v2) and HTTP (/api/v2/...), from its OpenAPI document; legacy: Deriv's v3 "
        "WebSocket API (/websockets/v3?app_id=...), from its schemas (--spec: the zip or directory)",
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
        await mock.start()
    except (LookupError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Deribit mock server: {len(mock.methods)} methods, {len(mock.spec.channels)} channels", flush=True)
    print(f"  WebSocket: {mock.ws_url}\n  HTTP:      {mock.http_url}", flush=True)
    print(f"  public/auth client_credentials: {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        await _wait_for_signal()
    finally:
        await mock.stop()
    print("Stopped.", flush=True)
    return 0


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
        await mock.start()
    except (LookupError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Deriv v3 mock server: {len(mock.calls)} calls ({mock.spec.source})", flush=True)
    print(f"  WebSocket: {mock.url}", flush=True)
    print(
        f"  app_id:    {'any' if args.app_id is None else args.app_id} (query parameter, required)",
        flush=True,
    )
    if not args.token:
        print(f"  token:     {tokens[0]} (authorize; every scope, {mock.account.loginid})", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        await _wait_for_signal()
    finally:
        await mock.stop()
    print("Stopped.", flush=True)
    return 0


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
    try:
        await server.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}: {exc.strerror or exc}", file=sys.stderr)
        return 1

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    schemas = server.schemas
    rest = f", {len(server.rest.operations)} REST operations" if isinstance(server, MockDeriv) else ""
    print(
        f"Deriv mock server: {server.package} {schemas.version} ({len(server.calls)} calls{rest}), "
        f"seed {server.seed}, a tick every {server.tick_interval:g} s",
        flush=True,
    )
    if isinstance(server, MockDeriv):
        print(f"  REST API:        {server.rest_url}", flush=True)
        print(f"  OAuth authorize: {server.oauth_authorize_url}", flush=True)
        print(f"  OAuth token:     {server.oauth_token_url}", flush=True)
        print(f"  app id:          {server.app_id} (Deriv-App-ID header, OAuth client_id)", flush=True)
        if not args.pat:
            print(f"  PAT:             {pats[0]} (Authorization: Bearer ...)", flush=True)
        print(f"  demo account:    {server.demo_account_id}", flush=True)
    print(f"  authenticated:   {server.url}", flush=True)
    print(f"  public:          {server.public_url}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
    print("Stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
