"""Command line: ``deriv-codegen`` / ``python -m deriv_codegen``.

Kept light at start-up: heavy modules (the model generator, Jinja, httpx) load only in the
command that needs them, so an up-to-date ``generate`` returns in a fraction of a second.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import CodegenError, Problem
from .fetch import MIRRORS_ENV, location_name, mirrors_from_env
from .limits import DEFAULT_LIMITS, LIMITS

if TYPE_CHECKING:
    from .diff import ApiDiff
    from .fetch import FetchOptions
    from .sources import Source, SourcesFile

DESCRIPTION = """\
Generate typed Python clients from Deriv's published API schemas.

Pinned bundles are listed in schemas/sources.toml. Each is taken from the local cache
(schemas/.cache), else from a mirror directory, else downloaded from upstream, and always
checked against its pinned sha256.

  deriv-codegen generate                 generate every pinned source into ./generated
  deriv-codegen generate --from FILE.zip generate from a bundle that is not pinned yet, beside
                                         the pinned build (generated/from/<label>/)
  deriv-codegen pin deriv-options TAG    move a pin to another upstream release tag
  deriv-codegen diff deriv-options OLD NEW   what changed between two releases, and whom it breaks
  deriv-codegen update [--write]         look for newer upstream releases, show what they change
"""

EPILOG = f"""\
mirrors: a mirror is a directory holding bundles under the names in sources.toml
(e.g. deriv-options/production_v20260630_0.zip). They are tried in order: --mirror
options, then ${MIRRORS_ENV} (separated by '{os.pathsep}'), then [fetch].mirrors in sources.toml.

limits: a bundle over a limit is refused before anything is written (zip bombs, $ref
explosions, huge enums). Raise one for a bundle you trust with --max-... N, or for good with
`max_... = N` in a [limits] table of sources.toml (the command-line option wins).
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deriv-codegen",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"deriv-codegen {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--sources", type=Path, help="sources file (default: schemas/sources.toml found from cwd)"
    )
    common.add_argument(
        "--mirror",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="mirror directory (repeatable)",
    )
    common.add_argument(
        "--offline", action="store_true", help="never use the network: cache and mirrors only"
    )
    common.add_argument("--cache-dir", type=Path, help="download cache (default: schemas/.cache)")
    limits = common.add_argument_group("limits (these override the [limits] table of sources.toml)")
    for name, what in LIMITS.items():
        limits.add_argument(
            "--" + name.replace("_", "-"),
            type=_positive_int,
            metavar="N",
            help=f"{what} (default {getattr(DEFAULT_LIMITS, name):,})",
        )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from .check import add_parser as add_check_parser

    add_check_parser(sub, common)

    gen = sub.add_parser(
        "generate",
        parents=[common],
        help="generate client packages (the main job)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gen.add_argument("source", nargs="*", help="sources to generate (default: all pinned sources)")
    gen.add_argument(
        "--from",
        dest="from_",
        metavar="PATH_OR_URL",
        help="generate from this bundle (zip, extracted directory, or http(s) URL) instead of the pin",
    )
    gen.add_argument("--label", help="version label for --from (default: derived from the file name)")
    gen.add_argument(
        "--out",
        type=Path,
        help="output directory (default: generated/ in the project; with --from, generated/from/<label>/, "
        "so the pinned build is never replaced unless --out says so)",
    )
    gen.add_argument("--force", action="store_true", help="regenerate even when inputs are unchanged")
    gen.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="list every problem (by default, problems of the same kind are listed once, with a count)",
    )

    fetch = sub.add_parser("fetch", parents=[common], help="fetch and verify pinned bundles into the cache")
    fetch.add_argument("source", nargs="*", help="sources to fetch (default: all)")
    _diff_parser(sub, common)

    pin = sub.add_parser(
        "pin", parents=[common], help="pin a source to another upstream release tag (computes the sha256)"
    )
    pin.add_argument("source", help="source name, e.g. deriv-options")
    pin.add_argument("tag", help="upstream release tag, e.g. production_v20260630_0")

    sub.add_parser("list", parents=[common], help="list pinned sources")
    _update_parser(sub, common)
    return parser


UPDATE_EPILOG = """\
For each source with a release listing (releases_url in sources.toml; with --offline, the tags in
the mirror directories), the newest release after the pin is fetched (mirrors first), verified,
and compared with the pinned bundle. sources.toml is modified only with --write.

exit status: 0 (also when newer releases exist), 1 a source failed (nothing written),
3 with --fail-on-breaking when an update breaks code that sends requests or reads answers.
"""


def _update_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    update = sub.add_parser(
        "update",
        parents=[common],
        help="look for newer upstream releases, verify the newest, show the diff against the pin",
        epilog=UPDATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    update.add_argument("source", nargs="*", help="sources to check (default: all pinned sources)")
    update.add_argument("--write", action="store_true", help="move the pin to the release found")
    update.add_argument("--tag", default="", help="take this release tag instead of the newest listed")
    update.add_argument(
        "--from",
        dest="from_",
        default="",
        metavar="PATH_OR_URL",
        help="take this bundle (zip, directory or URL) as the new release (tag: --tag, or its file name)",
    )
    update.add_argument(
        "--report", type=Path, metavar="FILE", help="write a report: Markdown, or JSON for *.json"
    )
    update.add_argument("--ci", action="store_true", help="plain output for CI logs, with an ::error:: line")
    update.add_argument(
        "--fail-on-breaking",
        action="store_true",
        help="exit 3 when an update breaks existing code (such a pin is not moved by --write)",
    )
    update.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="network timeout")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":  # needs no sources.toml with --package
            from .check import run as check

            return check(args)
        return _run(args)
    except CodegenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def fetch_options(args: argparse.Namespace, sources: SourcesFile) -> FetchOptions:
    """How to fetch bundles, from the common options (``--cache-dir``, ``--mirror``, ``--offline``,
    the limits) and ``sources.toml``."""
    from .fetch import FetchOptions

    return FetchOptions(
        cache_dir=(args.cache_dir or sources.project_root / "schemas" / ".cache").resolve(),
        mirrors=(*(m.resolve() for m in [*args.mirror, *mirrors_from_env()]), *sources.mirrors),
        offline=args.offline,
        limits=sources.limits.raised(**{name: getattr(args, name) for name in LIMITS}),
    )


def _run(args: argparse.Namespace) -> int:
    from .sources import find_sources_file, load_sources

    sources = load_sources(args.sources or find_sources_file())
    options = fetch_options(args, sources)
    if args.command == "diff":
        return _diff(args, sources, options)
    selected = getattr(args, "source", None)
    if args.command == "list":
        for s in sources.sources.values():
            print(f"{s.name}: {s.version}  sha256 {s.sha256}  layout {s.layout}  -> package {s.package}")
        return 0
    if args.command == "pin":
        return _pin(sources, args.source, args.tag, options)
    if args.command == "update":
        return _update(args, sources, options)
    names = selected or sorted(sources.sources)
    chosen = [sources.get(n) for n in names]
    if args.command == "fetch":
        from .fetch import fetch

        for s in chosen:
            print(f"{s.name} {s.version}: {fetch(s, options)}")
        return 0
    return _generate(args, sources, chosen, options)


def _pin(sources: SourcesFile, name: str, tag: str, options: FetchOptions) -> int:
    from .fetch import resolve_pin
    from .sources import write_pin

    source = sources.get(name)
    path, digest = resolve_pin(source, tag, options)
    if tag == source.version and digest == source.sha256:
        print(f"{name} is already pinned to {tag} (sha256 {digest})")
        return 0
    write_pin(sources.path, name, tag, digest)
    print(
        f"pinned {name} to {tag}\n  sha256 {digest}\n  cached at {path}\nnext: deriv-codegen generate {name}"
    )
    return 0


def _update(args: argparse.Namespace, sources: SourcesFile, options: FetchOptions) -> int:
    from dataclasses import replace

    from .update import run

    return run(
        sources,
        args.source,
        replace(options, timeout=args.timeout, progress=False if args.ci else None),
        write=args.write,
        tag=args.tag,
        from_=args.from_,
        report=args.report,
        ci=args.ci,
        fail_on_breaking=args.fail_on_breaking,
    )


def _generate(
    args: argparse.Namespace, sources: SourcesFile, chosen: list[Source], options: FetchOptions
) -> int:
    from .build import generate
    from .fetch import fetch, fetch_from
    from .ir import BundleInfo

    root = sources.project_root
    out = (args.out or root / "generated").resolve()
    beside = bool(args.from_) and args.out is None
    if args.from_ and len(chosen) != 1:
        raise CodegenError(
            "--from needs exactly one source naming the API of the bundle: generate deriv-options --from FILE"
        )
    problems = 0
    for source in chosen:
        if args.from_:
            bundle, digest = fetch_from(args.from_, source.layout, options)
            label = args.label or unpinned_label(args.from_)
            info = BundleInfo(source.name, label, digest, args.from_)
            if beside:  # never over the pinned build, unless --out asks for it
                out = (root / "generated" / UNPINNED_DIR / _path_part(label)).resolve()
        else:
            bundle = fetch(source, options)
            info = BundleInfo(source.name, source.version, source.sha256, str(bundle))
        result = generate(
            bundle,
            info,
            source.layout,
            source.package,
            out,
            root / "schemas" / "overrides",
            force=args.force,
            limits=options.limits,
        )
        where = _display(result.out_dir)
        if result.up_to_date:
            print(f"{source.name} {info.version}: {where} is up to date ({result.seconds:.2f} s)")
            continue
        what = (
            f"{result.operations} JSON-RPC operations, {result.channels} channels"
            if result.operations
            else f"{result.ws_calls} WebSocket calls, {result.rest_operations} REST operations, "
            f"{result.rest_schemas} REST-shaped schemas"
        )
        took = f"{result.files} files, {result.seconds:.2f} s"
        print(f"{source.name} {info.version}: {what} -> {where} ({took})")
        if beside:
            pinned = _display((root / "generated" / source.package).resolve())
            print(f"  beside the pinned build: {pinned} is untouched (--out DIR writes elsewhere)")
        for line in problem_lines(result.problems, verbose=args.verbose):
            print(f"  {line}")
        problems += len(result.problems)
    if problems:
        print(
            f"{problems} problem(s) above (kinds listed once unless --verbose); the generated code "
            "leaves those constructs out or untyped."
        )
    return 0


#: What varies between problems of one kind: the operation, a schema path, a property name.
_VARYING = (
    (re.compile(r"\b(?:GET|POST|PUT|PATCH|DELETE) /[^\s:]+"), "<operation>"),
    (re.compile(r"components/schemas/[^\s:]+"), "<schema>"),
    (re.compile(r"x-subscriptions/\S+ (notifications|parameter)"), r"x-subscriptions/<channel> \1"),
    (re.compile(r"(?: /(?:properties|items)\S*)+"), " <schema path>"),
    (re.compile(r"'[^']*'"), "'<name>'"),
    (re.compile(r"(no property): [^;]+"), r"\1: <name>"),
)


def problem_lines(problems: Sequence[Problem], *, verbose: bool = False) -> list[str]:
    """One line per problem with ``verbose``; otherwise one per kind of problem, the first as the
    example (a spec with 52 responses lacking a description reports it once, with the count)."""
    if verbose:
        return [str(p) for p in problems]
    kinds: dict[str, list[Problem]] = {}
    for p in problems:
        shape = str(p)
        for pattern, replacement in _VARYING:
            shape = pattern.sub(replacement, shape)
        kinds.setdefault(shape, []).append(p)
    lines = []
    for group in kinds.values():
        more = f"  (and {len(group) - 1} more like it; --verbose lists them)" if len(group) > 1 else ""
        lines.append(f"{group[0]}{more}")
    return lines


#: Where ``generate --from`` writes without ``--out``: generated/from/<label>/<package>.
UNPINNED_DIR = "from"


def _path_part(label: str) -> str:
    """``label`` as one safe directory name."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", label).strip(".") or "unpinned"


def unpinned_label(location: str) -> str:
    """The version label of a bundle given by location (``generate --from``, ``check --from``)."""
    name = location_name(location)
    return f"unpinned-{name}" if name else "unpinned"


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


DIFF_DESCRIPTION = """\
Compare two bundles of one API at the level of the generated client: calls, REST operations,
methods and channels added or removed; per field of requests and answers (by JSON path): added,
removed, required or optional, type narrowed or widened, enum values, pattern, bounds, format; auth
and scopes. Each change is classified for code that sends requests and code that reads answers:
breaking, breaking for strict readers only, or compatible. Problems the reader reports for one
release and not the other (what the generator leaves out, with the reason) are listed too.

  deriv-codegen diff deriv-options production_v20260512_0 production_v20260521_0
  deriv-codegen diff deriv-options production_v20260630_0 --new ./schemas.zip
  deriv-codegen diff deriv-options NEW_TAG            the pinned release -> NEW_TAG
  deriv-codegen diff deribit --old old.json --new new.json --format md -o diff.md

A release is a tag (the pinned one is verified against its sha256; another is taken from the cache,
a mirror, or downloaded, like `pin` does) or a bundle: a zip, an extracted directory, a JSON
document, an http(s) URL (like `generate --from`).
"""

DIFF_EPILOG = """\
exit status: 0 (also when there are breaking changes, unless asked), 1 an error (a release cannot
be fetched or read), 2 usage, 3 with --fail-on-breaking when a change breaks senders or readers
(with --strict, also a change that breaks strict readers only).
"""

#: ``diff --fail-on-breaking``: the exit status when a change is breaking.
EXIT_BREAKING = 3


class _IntermixedParser(argparse.ArgumentParser):
    """``diff``'s parser: release arguments may follow options (``diff API --offline OLD NEW``).

    argparse matches positionals once, before the options that follow them; what is left over and
    is not an option is taken as further releases.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extra = super().parse_known_args(args, namespace)
        rest = [e for e in extra if not e.startswith("-")]
        if rest and isinstance(getattr(parsed, "releases", None), list):
            parsed.releases = [*parsed.releases, *rest]
            extra = [e for e in extra if e.startswith("-")]
        return parsed, extra


def _diff_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    diff = sub.add_parser(
        "diff",
        parents=[common],
        help="what changed between two releases of an API, and whom it breaks",
        description=DIFF_DESCRIPTION,
        epilog=DIFF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.__class__ = _IntermixedParser
    diff.add_argument("source", help="the API: a source of sources.toml (deriv-options, deribit, ...)")
    diff.add_argument(
        "releases",
        nargs="*",
        metavar="RELEASE",
        help="OLD NEW, or NEW alone (OLD: the pinned release): a release tag, or a bundle's path or URL",
    )
    diff.add_argument("--old", metavar="PATH_OR_URL", help="the old bundle: zip, directory, JSON or URL")
    diff.add_argument("--new", metavar="PATH_OR_URL", help="the new bundle: zip, directory, JSON or URL")
    diff.add_argument(
        "--format",
        choices=("text", "md", "json"),
        default="text",
        help="text: a terminal report (default); md: Markdown; json: for programs",
    )
    diff.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report to FILE")
    diff.add_argument(
        "--fail-on-breaking", action="store_true", help=f"exit {EXIT_BREAKING} when a change is breaking"
    )
    diff.add_argument(
        "--strict",
        action="store_true",
        help="with --fail-on-breaking, changes that break strict readers only count as breaking",
    )


def _diff_sides(args: argparse.Namespace, pinned: str) -> tuple[tuple[str, bool], tuple[str, bool]]:
    """``((old, is_location), (new, is_location))`` from the positional releases and --old/--new."""
    releases: list[str] = list(args.releases)
    if len(releases) > 2:
        raise CodegenError("diff takes at most two releases: OLD NEW (or NEW alone, against the pin)")
    if args.old and args.new:
        if releases:
            raise CodegenError("--old and --new name both bundles; give no RELEASE with them")
        return (args.old, True), (args.new, True)
    if args.old:
        if len(releases) > 1:
            raise CodegenError("with --old, give at most one RELEASE (the new one)")
        return (args.old, True), ((releases[0], False) if releases else (pinned, False))
    if args.new:
        if len(releases) > 1:
            raise CodegenError("with --new, give at most one RELEASE (the old one)")
        return ((releases[0], False) if releases else (pinned, False)), (args.new, True)
    if not releases:
        raise CodegenError(
            "diff needs the releases to compare: OLD NEW, NEW (against the pinned release), "
            "or --old/--new PATH_OR_URL"
        )
    if len(releases) == 1:
        return (pinned, False), (releases[0], False)
    return (releases[0], False), (releases[1], False)


def _diff(args: argparse.Namespace, sources: SourcesFile, options: FetchOptions) -> int:
    from .config import load_api_config
    from .diff import diff_bundles, open_release

    source = sources.get(args.source)
    sides = [
        open_release(source, release, options, location=is_location)
        for release, is_location in _diff_sides(args, source.version)
    ]
    config = load_api_config(sources.project_root / "schemas" / "overrides", source.name)
    found = diff_bundles(sides[0], sides[1], source.layout, config, options.limits)
    _write_diff(found, args.format, args.output)
    failing = found.strict_breaking if args.strict else found.breaking
    return EXIT_BREAKING if args.fail_on_breaking and failing else 0


def _write_diff(found: ApiDiff, fmt: str, output: Path | None) -> None:
    from .diff_report import headline, render_markdown, render_text, text_report

    if fmt == "json":
        text = found.dumps()
    elif fmt == "md":
        text = render_markdown(found)
    elif output is not None:
        text = text_report(found)
    else:
        from rich.console import Console

        render_text(found, Console())
        return
    if output is None:
        sys.stdout.write(text)
        return
    from .sources import atomic_write_text

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(output, text)
    except OSError as exc:
        raise CodegenError(f"cannot write {output}: {exc.strerror or exc}") from None
    print(f"{_display(output)}: {headline(found)}")
