"""``deriv-codegen check``: recorded traffic checked against a release of one of the APIs.

The checks, the report and the exit policy are the runtime's (:mod:`deriv_runtime.traffic`,
:mod:`deriv_runtime.traffic_report`, also behind ``deriv-check``); this command supplies the
release: the pinned bundle of a source, another release tag of it (``--version``), any bundle
(``--from``), or an installed generated package (``--package``). A bundle is read as ``generate``
reads it (the same reader and override file), so the check sees what the generated client is made
from: for Deribit, the methods and corrections of the override file too.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .errors import CodegenError

if TYPE_CHECKING:
    from deriv_runtime.traffic import Contract

    from .ir import ApiIR

DESCRIPTION = """\
Check recorded traffic (JSON files of one message or an array, JSON Lines; requests, answers and
notifications of any of the three APIs, each message's call told from its content) against a
release, and print a drift report: counts per call, per path and per broken rule with the first
example of each (secrets masked), a strict and a tolerant verdict.

  deriv-codegen check --source deriv-options recordings/*.jsonl       the pinned release
  deriv-codegen check --source deriv-options --version TAG rec.jsonl  another release tag
  deriv-codegen check --source deribit --from openapi.json rec.json   a bundle not pinned
  deriv-codegen check --package deriv_v3 rec.jsonl                    an installed generated package
"""

EPILOG = """\
verdicts: strict - every JSON-schema violation, by path and rule; tolerant - what the generated
client cannot read (unknown fields, missing fields, new enum values, patterns and bounds are read).
exit status: 0 nothing fails under --fail-on, 1 something does, 2 a recording or package cannot
be read (errors of the bundle or its download: 1, as for the other commands).
"""


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """The ``check`` subcommand of ``deriv-codegen``."""
    from deriv_runtime.traffic_report import add_arguments

    check = sub.add_parser(
        "check",
        parents=[common],
        help="check recorded traffic against a release: a drift report, an exit status by policy",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "--source", help="the API: a source of sources.toml (deriv-options, deriv-legacy-v3, deribit)"
    )
    release = check.add_mutually_exclusive_group()
    release.add_argument(
        "--version",
        dest="release",
        metavar="TAG",
        help="this release of the source instead of its pin (cache, mirrors, then upstream)",
    )
    release.add_argument(
        "--from", dest="from_", metavar="PATH_OR_URL", help="this bundle (zip, directory, file or URL)"
    )
    release.add_argument(
        "--package", help="an installed generated package instead of a bundle (what deriv-check reads)"
    )
    add_arguments(check)


def run(args: argparse.Namespace) -> int:
    """Run ``deriv-codegen check``."""
    from deriv_runtime.traffic import Contract
    from deriv_runtime.traffic_report import run as run_check

    if args.package:
        if args.source:
            raise CodegenError(
                "check: give --source (a release) or --package (a generated package), not both"
            )
        return run_check(args, lambda: Contract.from_package(args.package))
    if not args.source:
        raise CodegenError(
            "check needs the API: --source NAME (deriv-options, deriv-legacy-v3, deribit) or --package"
        )
    return run_check(args, lambda: _release_contract(args))


def _release_contract(args: argparse.Namespace) -> Contract:
    from .cli import fetch_options, unpinned_label
    from .config import load_api_config
    from .diff import open_tag
    from .fetch import fetch_from
    from .ir import BundleInfo
    from .readers import read_bundle
    from .sources import find_sources_file, load_sources

    sources = load_sources(args.sources or find_sources_file())
    options = fetch_options(args, sources)
    source = sources.get(args.source)
    if args.from_:
        bundle, digest = fetch_from(args.from_, source.layout, options)
        info = BundleInfo(source.name, unpinned_label(args.from_), digest, str(bundle))
    else:
        bundle, info = open_tag(source, args.release or source.version, options)
    config = load_api_config(sources.project_root / "schemas" / "overrides", source.name)
    return contract_from_ir(read_bundle(bundle, source.layout, info, options.limits, config))


def contract_from_ir(ir: ApiIR) -> Contract:
    """The runtime's :class:`~deriv_runtime.traffic.Contract` of what a bundle describes: the
    Deriv WebSocket calls and REST document a generated package ships (``schemas.json``,
    ``openapi.json``), or Deribit's methods and channels as the generator reads them (override
    fixes included), their OpenAPI 3.0 schemas as plain JSON Schema."""
    from deriv_runtime.schemas import CallSchemas
    from deriv_runtime.traffic import Contract

    source, version = ir.bundle.source, ir.bundle.version
    if any(kind.startswith("jsonrpc-") for kind in ir.binding_kinds()):
        from deriv_runtime.mock.deribit.spec import json_schema

        document: dict[str, Any] = {"components": ir.components}
        methods = {
            op.name: CallSchemas(
                json_schema(op.params_schema, document), json_schema(op.result_schema, document)
            )
            for op in ir.operations
        }
        channels = {ch.name: json_schema(ch.notification_schema, document) for ch in ir.channels}
        return Contract(source, version, methods=methods, channels=channels)
    calls = {op.name: CallSchemas(op.params_schema, op.result_schema) for op in ir.bound("deriv-ws")}
    return Contract(source, version, calls=calls, rest=ir.openapi)


__all__ = ["add_parser", "contract_from_ir", "run"]
