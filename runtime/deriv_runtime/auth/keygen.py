"""``deribit-keygen``: make a key pair for a self-generated Deribit API key.

::

    deribit-keygen --out ~/.config/mybot/deribit.pem                        # Ed25519, no password
    deribit-keygen --type rsa --bits 4096 --out key.pem --public-out key.pub
    DERIBIT_KEY_PASSWORD=... deribit-keygen --out key.pem --password-env DERIBIT_KEY_PASSWORD
    deribit-keygen --out key.pem --ask-password                             # asks twice

The private key is written as PKCS#8 PEM, mode ``0600``, atomically, encrypted when a password is
given; an existing file is never replaced without ``--force``. The public key (SubjectPublicKeyInfo
PEM) goes to standard output, and to ``--public-out`` if given: register it in the account's API
settings (a "self-generated" key) or with ``private/create_api_key`` and its ``public_key``, then
authenticate with ``grant_type=client_signature``. Passwords are read from an environment variable,
standard input or the terminal, never from the command line (where ``ps`` would show them).

Exit status: 0 done, 2 bad input (one line on standard error), 1 the key could not be written.
Also ``python -m deriv_runtime.auth.keygen``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .keys import DEFAULT_RSA_BITS, MIN_RSA_BITS, KeyFileError, SigningKey
from .secret import Secret

__all__ = ["main"]

PROG = "deribit-keygen"


class _UsageError(Exception):
    """Bad input: reported on one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            # not echoed: a mistyped option may carry a password (``--password hunter2``)
            message = (
                "unrecognized arguments (see --help; a password is never taken on the command line: "
                "use --password-env, --password-stdin or --ask-password)"
            )
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        allow_abbrev=False,
        description="Generate an Ed25519 or RSA key pair for a self-generated Deribit API key.",
        epilog="The public key is printed on standard output; the private key never is.",
    )
    parser.add_argument(
        "--type", choices=("ed25519", "rsa"), default="ed25519", help="key type (default: ed25519)"
    )
    parser.add_argument(
        "--bits",
        type=int,
        default=None,
        help=f"RSA key size in bits (default {DEFAULT_RSA_BITS}, at least {MIN_RSA_BITS})",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="where to write the private key (PEM, mode 0600)"
    )
    parser.add_argument("--public-out", type=Path, help="also write the public key (PEM) here")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--password-env", metavar="VAR", help="encrypt with the password in environment variable VAR"
    )
    source.add_argument(
        "--password-stdin",
        action="store_true",
        help="encrypt with the password on the first line of standard input",
    )
    source.add_argument("--ask-password", action="store_true", help="encrypt with a password typed twice")
    return parser


def _password(args: argparse.Namespace) -> Secret | None:
    if args.password_env is not None:
        value = os.environ.get(args.password_env)
        if value is None:
            raise _UsageError(f"environment variable {args.password_env} is not set")
        if not value:
            raise _UsageError(f"environment variable {args.password_env} is empty")
        return Secret(value)
    if args.password_stdin:
        line = sys.stdin.readline()
        value = line.removesuffix("\n").removesuffix("\r")
        if not value:
            raise _UsageError("no password on standard input (the first line is empty)")
        return Secret(value)
    if args.ask_password:
        try:
            first = getpass.getpass("Password for the private key: ")
            second = getpass.getpass("Repeat the password: ")
        except EOFError:
            raise _UsageError("no terminal to read the password from (use --password-env)") from None
        if not first:
            raise _UsageError("the password is empty")
        if first != second:
            raise _UsageError("the passwords do not match")
        return Secret(first)
    return None


def _check_args(args: argparse.Namespace) -> int:
    """The RSA size to use (0 for Ed25519); raises :class:`_UsageError` for bad combinations."""
    if args.type == "ed25519":
        if args.bits is not None:
            raise _UsageError("--bits applies to RSA keys only (use --type rsa)")
        bits = 0
    else:
        bits = DEFAULT_RSA_BITS if args.bits is None else args.bits
        if bits < MIN_RSA_BITS:
            raise _UsageError(f"--bits {bits} is too small: Deribit requires at least {MIN_RSA_BITS}")
        if bits > 16384:
            raise _UsageError(f"--bits {bits} is too large (at most 16384; 3072 or 4096 is plenty)")
    out: Path = args.out.expanduser()
    public: Path | None = args.public_out.expanduser() if args.public_out is not None else None
    if public is not None and os.path.abspath(public) == os.path.abspath(out):
        raise _UsageError("--out and --public-out must be different files")
    if not args.force:
        for path in (out, public):
            if path is not None and os.path.lexists(path):
                raise _UsageError(f"{path} already exists (use --force to replace it)")
    return bits


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``deribit-keygen`` with ``argv`` (default: the command line); returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        bits = _check_args(args)
        password = _password(args)
    except _UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0

    from ._atomic import write_file_atomic

    key = SigningKey.generate(args.type, rsa_bits=bits) if bits else SigningKey.generate(args.type)
    out: Path = args.out.expanduser()
    try:
        key.save(out, password, overwrite=args.force)
    except KeyFileError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2 if os.path.lexists(out) and not args.force else 1
    public_pem = key.public_pem()
    if args.public_out is not None:
        public: Path = args.public_out.expanduser()
        try:
            write_file_atomic(public, public_pem.encode("ascii"), mode=0o644, overwrite=args.force)
        except OSError as exc:
            reason = "it already exists" if isinstance(exc, FileExistsError) else exc.strerror
            print(
                f"{PROG}: error: cannot write {public}: {reason} (the private key is in {out})",
                file=sys.stderr,
            )
            return 1
    sys.stdout.write(public_pem)
    sys.stdout.flush()
    protected = "encrypted with your password" if password is not None else "not encrypted"
    print(
        f"{PROG}: wrote the {key.kind} private key to {out} (mode 0600, {protected}); "
        f"fingerprint {key.fingerprint}.\n"
        "Register the public key above with Deribit: account settings > API > Add new key > "
        "Self-generated, or private/create_api_key with public_key. Then authenticate with "
        "grant_type client_signature and the client id Deribit gives you.",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
