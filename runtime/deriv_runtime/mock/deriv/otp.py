"""One-time passwords for the Options WebSocket endpoints: issued (by the REST OTP operation or
:meth:`~.ws_server.MockServer.issue_otp`), each opens one connection, once, to its endpoint
(demo or real), before it expires. Only fingerprints are recorded."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from urllib.parse import parse_qs, urlsplit

from ..core.record import fingerprint

__all__ = ["OtpBook", "OtpRecord", "endpoint_kind"]


@dataclass(slots=True)
class OtpRecord:
    """An OTP the server issued (:meth:`MockServer.issue_otp`), as :attr:`MockServer.otps_issued`
    reports it. The OTP itself is not kept here: ``fingerprint`` tells OTPs apart."""

    fingerprint: str
    #: ``"demo"`` or ``"real"``: the only endpoint (``.../ws/<kind>``) it opens.
    kind: str
    #: The account its connection trades on (``None``: the server's default account).
    account_id: str | None
    #: Epoch seconds.
    issued_at: float
    expires_at: float
    #: When it opened its connection (epoch seconds); ``None`` while unused.
    used_at: float | None = None
    #: Handshakes refused because it was already used, expired or for the other endpoint.
    refusals: int = 0
    _deadline: float = dataclass_field(default=0.0, repr=False)  # time.monotonic()

    @property
    def used(self) -> bool:
        return self.used_at is not None

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._deadline


def endpoint_kind(path: str) -> str | None:
    """``"demo"`` / ``"real"`` for ``.../ws/demo`` / ``.../ws/real``, else ``None``."""
    last = urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1]
    return last if last in ("demo", "real") else None


class OtpBook:
    """The OTPs issued, by value (expired ones pruned now and then), and their records."""

    def __init__(self) -> None:
        self._otps: dict[str, OtpRecord] = {}
        #: Every OTP issued, oldest first.
        self.issued: list[OtpRecord] = []

    def issue(self, kind: str, account_id: str | None, lifetime: float) -> str:
        otp = secrets.token_urlsafe(24)
        now = time.time()
        record = OtpRecord(
            fingerprint(otp), kind, account_id, now, now + lifetime, _deadline=time.monotonic() + lifetime
        )
        self._prune()
        self._otps[otp] = record
        self.issued.append(record)
        return otp

    def _prune(self) -> None:
        if len(self._otps) < 256:
            return
        for otp, record in list(self._otps.items()):
            if record.expired:
                del self._otps[otp]

    @staticmethod
    def otp_of(path: str) -> str:
        """The ``otp`` query parameter of a request target (``""``: none)."""
        return (parse_qs(urlsplit(path).query).get("otp") or [""])[0]

    def use(self, otp: str, path: str) -> tuple[OtpRecord | None, str | None]:
        """The record of ``otp`` (``None``: not issued here) and why it cannot open ``path``
        (``None``: it can, and is now used)."""
        record = self._otps.get(otp) if otp else None
        if record is None:
            return None, None
        kind = endpoint_kind(path)
        problem = None
        if record.used:
            problem = "this OTP was already used"
        elif record.expired:
            problem = "this OTP has expired"
        elif kind is not None and kind != record.kind:
            problem = f"this OTP is for the {record.kind} endpoint"
        if problem is None:
            record.used_at = time.time()
        else:
            record.refusals += 1
        return record, problem
