"""Schema text never becomes code: hostile bundles, shadowing property names, unparsable output.

Every string of a bundle reaches generated source through :mod:`deriv_codegen.pysource` (escaped
for where it lands) or is refused; names that become identifiers are checked; every generated
Python file is parsed before the new tree replaces the old one.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import json
import os
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from deriv_codegen import build as build_module
from deriv_codegen import pysource
from deriv_codegen import render as render_module
from deriv_codegen.build import STAMP, generate
from deriv_codegen.errors import CodegenError
from deriv_codegen.ir import BundleInfo
from deriv_codegen.render import environment
from deriv_runtime.auth import PersonalAccessToken
from deriv_runtime.sync import LoopThread
from deriv_runtime.testing import InMemoryTransport
from pydantic import BaseModel

from .conftest import generate_mini, imported

ENV_MARK = "DERIV_CODEGEN_PWNED"
#: Code that, if it ever ran, would leave a trace in the environment (no slash: fits a file name).
ENV_CODE = f'__import__("os").environ.__setitem__("{ENV_MARK}", "1")'
#: A component schema name that would be code if it became a class name unchecked.
BAD_CLASS = 'X"); import os; os.system("true'


def hostile(marker: Path, tag: str = "") -> str:
    """Text that tries every way out of a docstring, a comment or a string literal into code."""
    code = f'{ENV_CODE}; open({str(marker)!r}, "w").close()'
    return (
        f'{tag}Hi."""\n{code}\n"""'
        f"'''\n{code}\n''' "
        f'\\ \\" \\N{{BULLET}} \\u0041 \r{code}\r\n{code}\n#{code}\x00 \u2028{code}\u2029{code}\x85{code}'
        f"\x0b{code}\x0c{code}\u202e{{{{ 7 * 7 }}}} {{% if 1 %}}jinja{{% endif %}} <b>|x|</b> `tick`"
        f' end"'
    )


def write_bundle(root: Path, files: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, doc in files.items():
        (root / name).write_text(json.dumps(doc), encoding="utf-8")
    return root


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def import_everything(dist: Path, package: str) -> list[ModuleType]:
    modules = []
    for path in sorted((dist / package).rglob("*.py")):
        parts = path.relative_to(dist).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules.append(importlib.import_module(name))
    return modules


def touch_everything(modules: list[ModuleType]) -> None:
    """Read every docstring, signature, model schema and default: nothing of it may run."""
    for module in modules:
        inspect.getdoc(module)
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == module.__name__:
                inspect.getdoc(value)
                for _, member in inspect.getmembers(value, inspect.isfunction):
                    inspect.getdoc(member)
                    inspect.signature(member)
                if issubclass(value, BaseModel):
                    value.model_json_schema()
                    for f in value.model_fields.values():
                        repr(f.default)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MARK, raising=False)


# --- hostile text in every field --------------------------------------------------------------


def hostile_bundle(root: Path, marker: Path) -> tuple[Path, dict[str, str]]:
    text = {k: hostile(marker, k + ":") for k in ("desc", "scope", "enum", "title", "msg", "rest", "param")}
    request = {
        "title": text["title"],
        "description": text["desc"],
        "type": "object",
        "auth_required": 1,
        "auth_scopes": [text["scope"], 'a"b'],
        "additionalProperties": False,
        "required": ["hack"],
        "properties": {
            "hack": {"description": text["desc"], "type": "integer", "enum": [1]},
            "choice": {
                "description": text["desc"],
                "title": text["title"],
                "type": "string",
                "enum": [text["enum"], "plain"],
            },
            "text": {
                "description": text["desc"],
                "type": "string",
                "default": text["enum"],
                "examples": [text["enum"]],
            },
            "quoted": {
                "description": text["desc"],
                "type": "string",
                "pattern": "^(?:\"\"\"|'''|\\\\|[a-z])*$",
            },
            "nested": {
                "title": text["title"],
                "description": text["desc"],
                "type": "object",
                "properties": {
                    "inner": {"description": text["desc"], "type": "string", "const": text["enum"]}
                },
            },
            "subscribe": {"description": "[Optional] Stream.", "type": "integer", "enum": [1]},
            "req_id": {"type": "integer"},
        },
    }
    response = {
        "title": text["title"],
        "description": text["desc"],
        "type": "object",
        "required": ["msg_type"],
        "properties": {
            "msg_type": {"type": "string", "enum": ["hack", text["msg"]]},
            "hack": {
                "title": text["title"],
                "description": text["desc"],
                "type": "object",
                "properties": {
                    "said": {"description": text["desc"], "type": "string", "enum": [text["enum"]]}
                },
            },
            "echo_req": {"type": "object"},
        },
    }
    odd_path = '/v1/odd/"""\n' + ENV_CODE + '\n"""'
    openapi = {
        "openapi": "3.1.0",
        "info": {"title": text["rest"], "version": "1"},
        "paths": {
            "/v1/things/{id}": {
                "get": {
                    "summary": text["rest"],
                    "description": text["rest"],
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": text["rest"],
                        },
                        {
                            "name": text["param"],
                            "in": "query",
                            "schema": {"type": "string", "enum": [text["enum"]]},
                            "description": text["rest"],
                        },
                    ],
                    "security": [{"oauth2": [text["scope"]]}],
                    "responses": {
                        "200": {
                            "description": text["rest"],
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                            },
                        }
                    },
                }
            },
            odd_path: {"get": {"summary": text["rest"], "responses": {"200": {"description": text["rest"]}}}},
        },
        "components": {
            "schemas": {
                "Thing": {
                    "description": text["rest"],
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": text["rest"], "default": text["enum"]}
                    },
                }
            },
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": "https://auth.example.invalid/authorize",
                            "tokenUrl": "https://auth.example.invalid/token",
                            "scopes": {text["scope"]: text["scope"]},
                        }
                    },
                }
            },
        },
    }
    bundle = write_bundle(
        root,
        {
            "hack_request.schema.json": request,
            "hack_response.schema.json": response,
            "rest-api-openapi.json": openapi,
        },
    )
    return bundle, {**text, "path": odd_path}


def test_hostile_text_stays_data_everywhere(tmp_path: Path, clean_env: None) -> None:
    marker = tmp_path / "pwned"
    bundle, text = hostile_bundle(tmp_path / "bundle", marker)
    # --label and the source name reach headers, docstrings, SOURCE*, pyproject.toml and README.md.
    source = f'hostile"""\n{ENV_CODE}\n"""\r{ENV_CODE}\u2028{ENV_CODE}'
    version = hostile(marker, "label:")
    info = BundleInfo(source, version, "0" * 64, hostile(marker, "location:"))
    overrides = tmp_path / "overrides"
    overrides.mkdir()

    result = generate(bundle, info, "deriv-options-zip", "hostile_api", tmp_path / "out", overrides)
    dist = result.out_dir
    again = generate(bundle, info, "deriv-options-zip", "hostile_api", tmp_path / "again", overrides)
    assert tree_bytes(dist) == tree_bytes(again.out_dir), "generating twice must be byte-identical"

    for path in sorted(dist.rglob("*.py")):
        ast.parse(path.read_bytes(), str(path))
        assert not any(line.startswith(ENV_CODE) for line in path.read_text(encoding="utf-8").splitlines())

    with imported(dist, "hostile_api") as pkg:
        modules = import_everything(dist, "hostile_api")
        touch_everything(modules)
        # The text is kept exactly where it is data.
        assert (source, version) == (pkg.SOURCE, pkg.SOURCE_VERSION)
        info_hack = pkg.CALLS["hack"]
        assert info_hack.auth_scopes == (text["scope"], 'a"b')
        assert info_hack.msg_types == ("hack", text["msg"])
        client_cls = next(
            v
            for v in vars(pkg.client).values()
            if inspect.isclass(v) and v.__module__ == "hostile_api.client"
        )
        doc = inspect.getdoc(client_cls.hack) or ""
        assert "desc:Hi." in doc
        assert "scopes: scope:Hi." in doc
        assert "{{ 7 * 7 }} {% if 1 %}jinja{% endif %}" in doc  # Jinja never re-reads its output

        transport = InMemoryTransport(lambda p: {"msg_type": "hack", "hack": {"said": text["enum"]}})
        client = client_cls(transport)
        answer = run(client.hack(choice=text["enum"], text=text["enum"]))
        assert answer.hack.said == text["enum"]
        assert transport.sent[0]["choice"] == text["enum"]
        assert transport.sent[0]["text"] == text["enum"]

        rest_cls = next(
            v
            for k, v in vars(pkg.rest).items()
            if k.endswith("RestClient") and getattr(v, "__module__", "") == "hostile_api.rest"
        )
        requests: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            requests.append(request)
            return httpx.Response(200, json={"id": text["enum"]})

        async def rest_call() -> Any:
            async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
                api = rest_cls(
                    http=http, credentials=PersonalAccessToken("tok"), base_url="https://api.example.invalid"
                )
                method = api.get_things_by_id
                query = next(n for n in inspect.signature(method).parameters if n not in {"id", "timeout"})
                return await method(id="7", **{query: text["enum"]})

        thing = run(rest_call())
        assert thing.id == text["enum"]
        assert dict(requests[0].url.params) == {text["param"]: text["enum"]}
        assert [op.path for op in pkg.rest._operations().values() if op.path == text["path"]]

    project = tomllib.loads((dist / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["description"] == f"Typed client for the {source} ({version})"
    readme = (dist / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) == 66, readme  # no line break of the text reached it
    assert readme.splitlines()[56].startswith("| call |")
    assert readme.splitlines()[62].startswith("| method | HTTP |")
    assert not marker.exists(), "bundle text ran as code"
    assert ENV_MARK not in os.environ, "bundle text ran as code"


def test_hostile_call_name_is_refused(tmp_path: Path, clean_env: None) -> None:
    marker = tmp_path / "pwned"
    name = f'x"""\n{ENV_CODE}; open({str(marker)!r}, "w").close()\n"""'
    ok = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "integer", "enum": [1]}}}
    ok_answer = {"type": "object", "properties": {"msg_type": {"type": "string", "enum": ["ok"]}}}
    bundle = write_bundle(
        tmp_path / "bundle",
        {
            # The call is named by the request property that matches its msg_type.
            "evil_request.schema.json": {"type": "object", "properties": {name: {"type": "integer"}}},
            "evil_response.schema.json": {
                "type": "object",
                "properties": {"msg_type": {"type": "string", "enum": [name]}},
            },
            "ok_request.schema.json": ok,
            "ok_response.schema.json": ok_answer,
        },
    )
    result = generate_mini(tmp_path / "out", bundle)
    refused = [p for p in result.problems if p.where == "evil_request.schema.json"]
    assert refused, result.problems
    assert repr(name) in refused[0].what
    assert refused[0].severity == "skipped"
    with imported(result.out_dir, "mini_api") as pkg:
        touch_everything(import_everything(result.out_dir, "mini_api"))
        assert sorted(pkg.CALLS) == ["ok"]
    assert not marker.exists()
    assert ENV_MARK not in os.environ


@pytest.mark.parametrize(
    ("files", "where", "value"),
    [
        (
            {
                "rest-api-openapi.json": {
                    "openapi": "3.1.0",
                    "paths": {
                        "/v1/x": {
                            "get": {
                                "responses": {
                                    "200": {
                                        "description": "ok",
                                        "content": {
                                            "application/json": {
                                                "schema": {"$ref": "#/components/schemas/" + BAD_CLASS}
                                            }
                                        },
                                    }
                                }
                            }
                        }
                    },
                    "components": {
                        "schemas": {
                            BAD_CLASS: {
                                "type": "object",
                                "properties": {"a": {"type": "string"}},
                            }
                        }
                    },
                }
            },
            "rest-api-openapi.json",
            BAD_CLASS,
        ),
        (
            {
                "wide_request.schema.json": {
                    "type": "object",
                    "required": ["wide"],
                    "properties": {
                        "wide": {"type": "integer", "enum": [1]},
                        "\uff50\uff41\uff59\uff4c\uff4f\uff41\uff44": {"type": "string"},
                    },
                },
                "wide_response.schema.json": {
                    "type": "object",
                    "properties": {"msg_type": {"type": "string", "enum": ["wide"]}},
                },
            },
            "wide_request.schema.json",
            "\uff50\uff41\uff59\uff4c\uff4f\uff41\uff44",  # fullwidth: Python reads it as "payload"
        ),
    ],
    ids=["component-name", "non-ascii-property"],
)
def test_names_that_cannot_be_identifiers_are_refused(
    tmp_path: Path, files: dict[str, Any], where: str, value: str
) -> None:
    bundle = write_bundle(tmp_path / "bundle", files)
    with pytest.raises(CodegenError) as err:
        generate_mini(tmp_path / "out", bundle)
    assert where in str(err.value)
    assert repr(value) in str(err.value)
    assert not (tmp_path / "out" / "mini_api").exists()


# --- properties named like the generated code's locals -----------------------------------------

#: JSON names that are (or become) names the generated methods use themselves.
SHADOWING = [
    "payload",
    "timeout",
    "self",
    "_m",
    "_calls",
    "_payload",
    "_m_m",
    "Unset",
    "Any",
    "BaseClient",
    "Stream",
]


def shadow_bundle(root: Path) -> Path:
    props: dict[str, Any] = {name: {"type": "string"} for name in SHADOWING}
    props["UNSET"] = {"type": ["string", "null"]}
    probe = {
        "type": "object",
        "required": ["probe"],
        "properties": {
            "probe": {"type": "integer", "enum": [1]},
            **props,
            "subscribe": {"type": "integer", "enum": [1]},
            "req_id": {"type": "integer"},
        },
    }

    def answer(name: str) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["msg_type"],
            "properties": {"msg_type": {"type": "string", "enum": [name]}, name: {"type": "integer"}},
        }

    def plain(name: str) -> dict[str, Any]:
        return {"type": "object", "required": [name], "properties": {name: {"type": "integer", "enum": [1]}}}

    body_props = {n: {"type": "string"} for n in ["body", "timeout", "self", "_m", "_body", "id"]}
    openapi = {
        "openapi": "3.1.0",
        "paths": {
            "/v1/things/{id}": {
                "post": {
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "timeout", "in": "query", "schema": {"type": "string"}},
                        {"name": "self", "in": "query", "schema": {"type": "string"}},
                        {"name": "_body", "in": "query", "schema": {"type": "string"}},
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"type": "object", "properties": body_props}}
                        },
                    },
                    "responses": {"204": {"description": "done"}},
                    "security": [],
                }
            }
        },
    }
    return write_bundle(
        root,
        {
            "probe_request.schema.json": probe,
            "probe_response.schema.json": {
                **answer("probe"),
                "properties": {
                    "msg_type": {"type": "string", "enum": ["probe", "m"]},
                    "probe": {"type": "integer"},
                },
            },
            "m_request.schema.json": plain("m"),
            "m_response.schema.json": answer("m"),
            "calls_request.schema.json": plain("calls"),
            "calls_response.schema.json": answer("calls"),
            "rest-api-openapi.json": openapi,
        },
    )


class RecordingTransport(InMemoryTransport):
    def __init__(self, handler: Any) -> None:
        super().__init__(handler)
        self.timeouts: list[float | None] = []

    async def request(self, payload: Any, *, timeout: float | None, **kw: Any) -> Any:
        self.timeouts.append(timeout)
        return await super().request(payload, timeout=timeout, **kw)


def test_properties_named_like_locals_are_sent_under_their_json_names(tmp_path: Path) -> None:
    dist = generate_mini(tmp_path / "out", shadow_bundle(tmp_path / "bundle")).out_dir
    with imported(dist, "mini_api") as pkg:
        params = [
            p for p in inspect.signature(pkg.MiniClient.probe).parameters if p not in {"self", "timeout"}
        ]
        assert "payload" in params  # kept: the generated code's own locals start with "_"
        assert {"self_", "timeout_"} <= set(params)
        assert not [p for p in params if p.startswith("_")]
        kwargs = {p: f"value of {p}" for p in params}
        expected = {"probe": 1, **dict.fromkeys(SHADOWING), "UNSET": None}
        sent_values = {f"value of {p}" for p in params}

        def check(sent: dict[str, Any]) -> None:
            body = {k: v for k, v in sent.items() if k not in {"req_id", "subscribe"}}
            assert set(body) == set(expected), body
            assert body["probe"] == 1
            assert {v for k, v in body.items() if k != "probe"} == sent_values

        transport = RecordingTransport(lambda p: {"msg_type": "probe", "probe": 1})
        client = pkg.MiniClient(transport)
        run(client.probe(**kwargs, timeout=7.5))
        check(transport.sent[0])
        assert transport.timeouts == [7.5]
        # A nullable property: None is sent as null, leaving it out sends nothing.
        unset_param = next(p for p in params if p.lower().startswith("unset") and p != "Unset")
        run(client.probe(**{unset_param: None}))
        assert transport.sent[1] == {"probe": 1, "UNSET": None, "req_id": 2}

        # Streaming: the module of call "m" must not shadow the call's own module alias.
        stream_transport = InMemoryTransport(
            lambda p: [{"msg_type": "probe", "probe": 1}, {"msg_type": "m", "m": 2}]
        )
        streaming = pkg.MiniClient(stream_transport)

        async def consume() -> list[Any]:
            async with streaming.subscribe_probe(**kwargs) as stream:
                return [m async for m in stream]

        got = run(consume())
        assert [type(m).__name__ for m in got] == ["ProbeResponse", "MResponse"]
        check(stream_transport.sent[0])

        # A call named "calls": its constant must not replace the CALLS mapping.
        assert pkg.CALLS["calls"].name == "calls"
        calls_transport = InMemoryTransport(lambda p: {"msg_type": "calls", "calls": 1})
        assert run(pkg.MiniClient(calls_transport).calls()).calls == 1

        # The blocking facade forwards the same names.
        sync_transport = RecordingTransport(lambda p: {"msg_type": "probe", "probe": 1})
        runner = LoopThread()
        try:
            sync_client = pkg.MiniSyncClient(pkg.MiniClient(sync_transport), runner)
            sync_client.probe(**kwargs, timeout=3.0)
        finally:
            runner.close()
        check(sync_transport.sent[0])
        assert sync_transport.timeouts == [3.0]

        # REST: query parameters and body fields named like locals, and a body field named like a
        # path parameter: all sent, none dropped.
        requests: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            requests.append(request)
            return httpx.Response(204)

        rest_params = [
            p
            for p in inspect.signature(pkg.MiniRestClient.post_things_by_id).parameters
            if p not in {"self", "timeout"}
        ]
        assert not [p for p in rest_params if p.startswith("_")]
        rest_kwargs = {p: f"value of {p}" for p in rest_params}

        async def rest_call() -> None:
            async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
                api = pkg.MiniRestClient(http=http, base_url="https://api.example.invalid")
                await api.post_things_by_id(**rest_kwargs, timeout=4.0)

        run(rest_call())
        with (
            httpx.Client(transport=httpx.MockTransport(handler)) as http,
            pkg.MiniRestSyncClient(http=http, base_url="https://api.example.invalid") as api,
        ):
            api.post_things_by_id(**rest_kwargs, timeout=4.0)
        for request in requests:
            query = dict(request.url.params)
            body = json.loads(request.content)
            assert set(query) == {"timeout", "self", "_body"}
            assert set(body) == {"body", "timeout", "self", "_m", "_body", "id"}
            path_value = request.url.path.rsplit("/", 1)[-1].replace("%20", " ")
            assert sorted([*query.values(), *body.values(), path_value]) == sorted(rest_kwargs.values())
            assert request.extensions["timeout"]["read"] == 4.0


# --- generated code that does not parse ---------------------------------------------------------


def test_unparsable_rendering_is_refused_and_the_previous_tree_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    dist = generate_mini(out).out_dir
    before = tree_bytes(dist)
    real = render_module.render_package
    broken_line: list[int] = []

    def broken(*args: Any, **kwargs: Any) -> dict[str, str]:
        files = real(*args, **kwargs)
        broken_line.append(files["mini_api/client.py"].count("\n") + 3)
        files["mini_api/client.py"] += "\n\ndef oops(:\n    pass\n"
        return files

    monkeypatch.setattr(render_module, "render_package", broken)
    with pytest.raises(CodegenError) as err:
        generate_mini(out, force=True)
    message = str(err.value)
    assert "mini_api/client.py" in message
    assert f"line {broken_line[0]}" in message
    assert tree_bytes(dist) == before
    assert sorted(p.name for p in out.iterdir()) == ["mini_api"]


def test_formatter_breaking_a_file_is_refused_and_the_previous_tree_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    dist = generate_mini(out).out_dir
    before = tree_bytes(dist)
    real = build_module.format_tree

    def formatter_bug(root: Path) -> None:
        real(root)
        target = root / "mini_api" / "_calls.py"
        target.write_text("x = (\n" + target.read_text(encoding="utf-8"), encoding="utf-8")

    monkeypatch.setattr(build_module, "format_tree", formatter_bug)
    with pytest.raises(CodegenError) as err:
        generate_mini(out, force=True)
    assert "mini_api/_calls.py" in str(err.value)
    assert "line 1" in str(err.value)
    assert tree_bytes(dist) == before
    assert (dist / STAMP).is_file()
    assert sorted(p.name for p in out.iterdir()) == ["mini_api"]


# --- the escaping functions themselves -----------------------------------------------------------

NASTY = [
    '"""\nimport os\n"""',
    "'''\nimport os\n'''",
    'ends with a quote"',
    'ends with two ""',
    "back\\slash\\",
    "\\N{BULLET} \\u0041 \\x00",
    "cr\rimport os",
    "nul\x00byte",
    "ls\u2028import os",
    "nel\x85import os",
    "bidi\u202eevil",
    "{{ 1 + 1 }} {% raw %}",
    "",
    '"',
]


@pytest.mark.parametrize("text", NASTY)
def test_docstring_and_comment_keep_text_inside(text: str) -> None:
    doc = pysource.docstring(text, 40, 4)
    module = f'def f():\n    """{doc}"""\n\n# {pysource.comment(text)}\nX = 1\n'
    tree = ast.parse(module)
    assert [type(n).__name__ for n in tree.body] == ["FunctionDef", "Assign"]
    func = tree.body[0]
    assert isinstance(func, ast.FunctionDef)
    assert len(func.body) == 1
    value = ast.get_docstring(func, clean=False) or ""
    assert " ".join(value.split()) == pysource.one_line(text)


@pytest.mark.parametrize("text", NASTY)
def test_literals_round_trip(text: str) -> None:
    assert ast.literal_eval(pysource.py_literal(text)) == text
    assert "\n" not in pysource.py_literal(text)
    assert tomllib.loads(f"k = {pysource.toml_str(text)}\n# {pysource.comment(text)}\n") == {"k": text}
    md = pysource.md_text(text) + pysource.md_code(text)
    assert "\n" not in md
    assert "\r" not in md


def test_templates_cannot_print_raw_text() -> None:
    env = environment()
    with pytest.raises(CodegenError, match="without an escaping filter"):
        env.from_string("{{ x }}").render(x='"""')
    with pytest.raises(CodegenError, match="without an escaping filter"):
        env.from_string('{{ xs | join(", ") }}').render(xs=["a", "b"])
    assert env.from_string("{{ x | py }} {{ n }}").render(x='"""', n=2) == '\'"""\' 2'
    with pytest.raises(CodegenError, match="not a usable Python identifier"):
        env.from_string("{{ x | ident }}").render(x="None")
    with pytest.raises(CodegenError, match="Call"):
        env.from_string("{{ x | annotation }}").render(x="list[__import__('os').system('x')]")
