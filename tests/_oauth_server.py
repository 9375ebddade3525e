"""A tiny OAuth 2.0 token endpoint on 127.0.0.1 for the auth tests (stdlib ``http.server``, a thread).

    with TokenServer() as server:
        server.register_code("the-code", challenge, redirect_uri)      # what the authorize step did
        config = OAuthConfig(client_id=server.client_id, redirect_uri=..., token_url=server.token_url)

It checks what a real server checks: the code is known, unused, issued to this client and redirect
URI, and ``BASE64URL(SHA256(code_verifier))`` equals the registered challenge (RFC 7636 §4.6);
refresh tokens rotate (the old one is dead after use). Every request is recorded (``server.requests``,
forms included: test memory only). ``server.before_answer`` runs in the handler thread before the
answer is sent; ``server.gate`` (an Event, if set) holds refresh answers until released.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from urllib.parse import parse_qs, unquote_plus

from ._httpserver import LoopbackServer
from ._httpserver import closed_port_url as _closed_port_url

__all__ = ["Grant", "TokenServer", "closed_port_url", "s256"]


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class Grant:
    challenge: str
    redirect_uri: str
    used: bool = False


@dataclass
class Recorded:
    path: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class _State:
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    requests: list[Recorded] = field(default_factory=list)
    issued: int = 0


class TokenServer:
    def __init__(
        self,
        *,
        client_id: str = "1234",
        client_secret: str | None = None,
        access_prefix: str = "access",
        refresh_prefix: str = "refresh",
        expires_in: int | None = 3600,
        issue_refresh: bool = True,
        rotate_refresh: bool = True,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_prefix = access_prefix
        self.refresh_prefix = refresh_prefix
        self.expires_in = expires_in
        self.issue_refresh = issue_refresh
        self.rotate_refresh = rotate_refresh
        #: Quote the offending code / verifier / refresh token in error descriptions (to test scrubbing).
        self.echo_secrets = False
        self.before_answer: Callable[[Recorded], None] | None = None
        self.gate: threading.Event | None = None
        self.force_error: tuple[int, dict[str, str]] | None = None
        self._state = _State()
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None

    # -- setup ----------------------------------------------------------------------------------

    def register_code(self, code: str, challenge: str, redirect_uri: str) -> None:
        with self._lock:
            self._state.codes[code] = Grant(challenge, redirect_uri)

    def add_refresh_token(self, token: str) -> None:
        with self._lock:
            self._state.refresh_tokens.add(token)

    # -- inspection -----------------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._state.requests)

    def count(self, grant_type: str | None = None) -> int:
        return sum(1 for r in self.requests if grant_type is None or r.form.get("grant_type") == grant_type)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.port

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/oauth2/token"

    # -- the endpoint ---------------------------------------------------------------------------

    def _issue(self, with_refresh: bool) -> dict[str, object]:
        self._state.issued += 1
        n = self._state.issued
        body: dict[str, object] = {"access_token": f"{self.access_prefix}-{n}", "token_type": "bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if with_refresh:
            refresh = f"{self.refresh_prefix}-{n}"
            self._state.refresh_tokens.add(refresh)
            body["refresh_token"] = refresh
        return body

    def _client_ok(self, form: dict[str, str], headers: dict[str, str]) -> bool:
        if form.get("client_id") != self.client_id:
            return False
        if self.client_secret is None:
            return True
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return unquote_plus(user) == self.client_id and unquote_plus(password) == self.client_secret
        return form.get("client_secret") == self.client_secret

    def _answer(self, form: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, object]]:
        if self.force_error is not None:
            status, body = self.force_error
            return status, dict(body)
        if not self._client_ok(form, headers):
            return 401, {"error": "invalid_client"}
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                code = form.get("code", "")
                grant = self._state.codes.get(code)
                if grant is None or grant.used:
                    text = f"unknown code {code}" if self.echo_secrets else "unknown or used code"
                    return 400, {"error": "invalid_grant", "error_description": text}
                grant.used = True
                if form.get("redirect_uri") != grant.redirect_uri:
                    return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
                verifier = form.get("code_verifier", "")
                if s256(verifier) != grant.challenge:
                    text = f"verifier {verifier} does not match" if self.echo_secrets else "PKCE check failed"
                    return 400, {"error": "invalid_grant", "error_description": text}
                return 200, self._issue(self.issue_refresh)
            if grant_type == "refresh_token":
                token = form.get("refresh_token", "")
                if token not in self._state.refresh_tokens:
                    text = f"refresh token {token} is dead" if self.echo_secrets else "unknown refresh token"
                    return 400, {"error": "invalid_grant", "error_description": text}
                if self.rotate_refresh:
                    self._state.refresh_tokens.discard(token)
                body = self._issue(self.rotate_refresh)
                return 200, body
        return 400, {"error": "unsupported_grant_type"}

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> TokenServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                record = Recorded(self.path, form, headers)
                with owner._lock:
                    owner._state.requests.append(record)
                if owner.before_answer is not None:
                    owner.before_answer(record)
                if owner.gate is not None and form.get("grant_type") == "refresh_token":
                    owner.gate.wait(10)
                status, body = owner._answer(form, headers)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = LoopbackServer(Handler)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.gate is not None:
            self.gate.set()
        if self._server is not None:
            self._server.stop()


def closed_port_url(path: str = "/oauth2/token") -> str:
    """A loopback URL nothing listens on."""
    return _closed_port_url(path)
