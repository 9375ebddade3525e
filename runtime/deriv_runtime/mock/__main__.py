"""``python -m deriv_runtime.mock``: serve the mock Deriv WebSocket API until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

DESCRIPTION = """\
Serve a mock of a Deriv WebSocket API on your machine, for developing and testing offline.

Every call of a generated client package is answered with data valid against its response schema;
ticks, ticks_history, proposal, buy/sell, proposal_open_contract, balance and transaction behave
like the real API (random-walk quotes, a demo account, contracts that settle). The server prints
its URLs and serves until Ctrl-C.
"""

EPILOG = """\
endpoints:
  .../ws/demo?otp=...   authenticated (any OTP is accepted unless --require-otp)
  .../ws/public         public calls only; the others answer AuthorizationRequired

examples:
  python -m deriv_runtime.mock
  python -m deriv_runtime.mock --port 8765 --tick-interval 0.5 --seed 42
  python -m deriv_runtime.mock --path generated/deriv_options --balance 500
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deriv_runtime.mock",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--package",
        default="deriv_options",
        help="generated client package to serve (default: %(default)s)",
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
        help="refuse authenticated connections without the server's OTP (HTTP 401)",
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
    if (fallback / package / "schemas.json").is_file():
        sys.path.insert(0, str(fallback))
        return None
    return (
        f"cannot import the generated package {package!r}. Generate it (deriv-codegen generate), then "
        f"install it (pip install -e generated/{package}) or pass --path generated/{package}."
    )


async def _serve(args: argparse.Namespace) -> int:
    from .server import MockServer

    try:
        server = MockServer(
            args.package,
            host=args.host,
            port=args.port,
            tick_interval=args.tick_interval,
            seed=args.seed,
            balance=args.balance,
            currency=args.currency,
            delay=args.delay,
            require_otp=args.require_otp,
        )
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        await server.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    schemas = server.schemas
    print(
        f"Deriv mock server: {server.package} {schemas.version} ({len(server.calls)} calls), "
        f"seed {server.seed}, a tick every {server.tick_interval:g} s",
        flush=True,
    )
    print(f"  authenticated: {server.url}", flush=True)
    print(f"  public:        {server.public_url}", flush=True)
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
    problem = _make_importable(args.package, args.path)
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
