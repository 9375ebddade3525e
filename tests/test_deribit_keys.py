"""deriv_runtime.auth.keys: Ed25519 / RSA signing keys for Deribit's self-generated API keys.

Signatures are checked with ``cryptography``'s public keys and, where the ``openssl`` binary is
installed, with openssl itself; keys made by openssl are loaded and used. Passwords and private key
material must never reach a message, a repr or a log. Nothing touches the network.
"""

from __future__ import annotations

import base64
import copy
import logging
import os
import pickle
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from deriv_runtime.auth import keys as keys_module
from deriv_runtime.auth.deribit_signing import (
    KeySigner,
    Signer,
    grant_params,
    http_authorization,
    http_string_to_sign,
    string_to_sign,
)
from deriv_runtime.auth.errors import AuthError
from deriv_runtime.auth.keys import (
    KeyFileError,
    KeyPasswordError,
    SigningKey,
    UnsupportedKeyError,
    WeakKeyError,
)
from deriv_runtime.auth.secret import Secret

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="no openssl binary")
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")

PASSWORD = "pw-CANARY-key-5d0e2a"
WRONG = "pw-CANARY-wrong-77b1f0"
MESSAGE = b"1576074319000\n1iqt2wls\n"


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    """One RSA 2048 key for the whole module (RSA generation is slow)."""
    return SigningKey.generate("rsa", rsa_bits=2048)


@pytest.fixture
def ed_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(params=["ed25519", "rsa"])
def any_key(request: pytest.FixtureRequest, rsa_key: SigningKey) -> SigningKey:
    return SigningKey.generate() if request.param == "ed25519" else rsa_key


def _raw(signature: str) -> bytes:
    return base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))


def _public(key: SigningKey) -> object:
    return serialization.load_pem_public_key(key.public_pem().encode())


def _texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), repr(exc.args), repr(getattr(exc, "__notes__", None))]


def _pem_lines(pem: bytes | str) -> list[str]:
    text = pem.decode() if isinstance(pem, bytes) else pem
    return [line for line in text.splitlines() if line.strip()]


def _assert_no_leak(texts: list[str], *secrets: str) -> None:
    leaks = [(s, t) for t in texts for s in secrets if s and s in t]
    assert not leaks, leaks[:3]


# -- generating and signing --------------------------------------------------------------------


def test_generate_ed25519_by_default() -> None:
    key = SigningKey.generate()
    assert key.kind == "ed25519"
    assert key.key_size == 256
    assert isinstance(_public(key), ed25519.Ed25519PublicKey)


def test_generate_rsa(rsa_key: SigningKey) -> None:
    assert rsa_key.kind == "rsa"
    assert rsa_key.key_size == 2048
    public = _public(rsa_key)
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048


@pytest.mark.parametrize("bits", [512, 1024, 2047])
def test_generate_refuses_weak_rsa(bits: int) -> None:
    with pytest.raises(WeakKeyError, match="2048"):
        SigningKey.generate("rsa", rsa_bits=bits)


@pytest.mark.parametrize("kind", ["ec", "dsa", "ED25519", ""])
def test_generate_refuses_unknown_kinds(kind: str) -> None:
    with pytest.raises(UnsupportedKeyError, match="ed25519"):
        SigningKey.generate(kind)


def test_error_hierarchy() -> None:
    for cls in (KeyPasswordError, WeakKeyError, UnsupportedKeyError):
        assert issubclass(cls, KeyFileError)
    assert issubclass(KeyFileError, AuthError)


def test_signature_is_base64url_without_padding(any_key: SigningKey) -> None:
    for message in (b"", MESSAGE, bytes(range(256))):
        signature = any_key.sign(message)
        assert "=" not in signature
        assert set(signature) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        expected_len = 64 if any_key.kind == "ed25519" else 256
        assert len(_raw(signature)) == expected_len


def test_ed25519_signature_verifies_with_cryptography(ed_key: SigningKey) -> None:
    public = _public(ed_key)
    assert isinstance(public, ed25519.Ed25519PublicKey)
    public.verify(_raw(ed_key.sign(MESSAGE)), MESSAGE)  # raises if invalid
    assert ed_key.verify(MESSAGE, ed_key.sign(MESSAGE))
    assert ed_key.sign(MESSAGE) == ed_key.sign(MESSAGE)  # Ed25519 is deterministic


def test_rsa_signature_is_pkcs1v15_sha256(rsa_key: SigningKey) -> None:
    public = _public(rsa_key)
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(_raw(rsa_key.sign(MESSAGE)), MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    assert rsa_key.verify(MESSAGE, rsa_key.sign(MESSAGE))


def test_verify_rejects_wrong_messages_and_garbage(any_key: SigningKey) -> None:
    signature = any_key.sign(MESSAGE)
    assert not any_key.verify(MESSAGE + b"x", signature)
    assert not any_key.verify(
        MESSAGE, signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    )
    assert not any_key.verify(MESSAGE, "not base64 !!")
    assert not any_key.verify(MESSAGE, "")
    assert not any_key.verify(MESSAGE, "ключ")
    assert not SigningKey.generate().verify(MESSAGE, signature)


def test_sign_refuses_text(ed_key: SigningKey) -> None:
    with pytest.raises(TypeError, match="bytes"):
        ed_key.sign("text")  # type: ignore[arg-type]


# -- openssl cross-checks ----------------------------------------------------------------------


def _openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], capture_output=True, check=False, timeout=60)


@needs_openssl
def test_openssl_verifies_ed25519(tmp_path: Path, ed_key: SigningKey) -> None:
    (tmp_path / "pub.pem").write_text(ed_key.public_pem())
    (tmp_path / "msg").write_bytes(MESSAGE)
    (tmp_path / "sig").write_bytes(_raw(ed_key.sign(MESSAGE)))
    ok = _openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"), "-rawin",
        "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig"),
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "msg").write_bytes(MESSAGE + b"x")
    bad = _openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"), "-rawin",
        "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig"),
    )  # fmt: skip
    assert bad.returncode != 0


@needs_openssl
def test_openssl_verifies_rsa(tmp_path: Path, rsa_key: SigningKey) -> None:
    (tmp_path / "pub.pem").write_text(rsa_key.public_pem())
    (tmp_path / "msg").write_bytes(MESSAGE)
    (tmp_path / "sig").write_bytes(_raw(rsa_key.sign(MESSAGE)))
    args = ("dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature", str(tmp_path / "sig"))
    ok = _openssl(*args, str(tmp_path / "msg"))
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "msg").write_bytes(MESSAGE + b"x")
    assert _openssl(*args, str(tmp_path / "msg")).returncode != 0


@needs_openssl
def test_openssl_ed25519_key_loads_and_signs(tmp_path: Path) -> None:
    private = tmp_path / "private.pem"
    assert _openssl("genpkey", "-algorithm", "ed25519", "-out", str(private)).returncode == 0
    key = SigningKey.load(private)
    assert key.kind == "ed25519"
    public = _openssl("pkey", "-in", str(private), "-pubout").stdout.decode()
    assert key.public_pem() == public
    # openssl signs the same bytes to the same (deterministic) Ed25519 signature
    (tmp_path / "msg").write_bytes(MESSAGE)
    raw = _openssl("pkeyutl", "-sign", "-inkey", str(private), "-rawin", "-in", str(tmp_path / "msg")).stdout
    assert base64.urlsafe_b64encode(raw).decode().rstrip("=") == key.sign(MESSAGE)


@needs_openssl
def test_openssl_rsa_key_loads_and_signs(tmp_path: Path) -> None:
    private = tmp_path / "private.pem"
    made = _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(private))
    assert made.returncode == 0, made.stderr
    key = SigningKey.load(private)
    assert key.kind == "rsa"
    assert key.key_size == 2048
    (tmp_path / "msg").write_bytes(MESSAGE)
    raw = _openssl("dgst", "-sha256", "-sign", str(private), str(tmp_path / "msg")).stdout
    assert base64.urlsafe_b64encode(raw).decode().rstrip("=") == key.sign(
        MESSAGE
    )  # PKCS#1 v1.5 is deterministic


@needs_openssl
def test_openssl_encrypted_key_loads_with_its_password(tmp_path: Path) -> None:
    private = tmp_path / "private.pem"
    made = subprocess.run(  # the password goes through the environment, not argv
        [str(OPENSSL), "genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "env:KEYPASS",
         "-out", str(private)],
        env={**os.environ, "KEYPASS": PASSWORD}, capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert b"ENCRYPTED PRIVATE KEY" in private.read_bytes()
    key = SigningKey.load(private, PASSWORD)
    assert key.verify(MESSAGE, key.sign(MESSAGE))
    with pytest.raises(KeyPasswordError):
        SigningKey.load(private, WRONG)
    with pytest.raises(KeyPasswordError):
        SigningKey.load(private)


@needs_openssl
def test_our_encrypted_key_opens_in_openssl(tmp_path: Path, ed_key: SigningKey) -> None:
    path = ed_key.save(tmp_path / "k.pem", PASSWORD)
    out = subprocess.run(
        [str(OPENSSL), "pkey", "-in", str(path), "-passin", "env:KEYPASS", "-pubout"],
        env={**os.environ, "KEYPASS": PASSWORD}, capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode() == ed_key.public_pem()


# -- PEM in and out ----------------------------------------------------------------------------


def test_pem_round_trip(any_key: SigningKey) -> None:
    pem = any_key.private_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    again = SigningKey.from_pem(pem)
    assert again.fingerprint == any_key.fingerprint
    assert again.public_pem() == any_key.public_pem()
    assert SigningKey.from_pem(pem.decode()).fingerprint == any_key.fingerprint
    assert any_key.verify(MESSAGE, again.sign(MESSAGE))


def test_public_pem_is_subject_public_key_info(any_key: SigningKey) -> None:
    pem = any_key.public_pem()
    assert isinstance(pem, str)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert pem.endswith("-----END PUBLIC KEY-----\n")


@pytest.mark.parametrize("password", [PASSWORD, PASSWORD.encode(), Secret(PASSWORD)])
def test_encrypted_pem_round_trip(ed_key: SigningKey, password: str | bytes | Secret) -> None:
    pem = ed_key.private_pem(password)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    for same in (PASSWORD, PASSWORD.encode(), Secret(PASSWORD)):
        assert SigningKey.from_pem(pem, same).fingerprint == ed_key.fingerprint


def test_wrong_or_missing_password_never_leaks(rsa_key: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pem = rsa_key.private_pem(PASSWORD)
    plain = rsa_key.private_pem()
    failures: list[KeyPasswordError] = []
    for password in (WRONG, None, Secret(WRONG)):
        with pytest.raises(KeyPasswordError) as err:
            SigningKey.from_pem(pem, password)
        failures.append(err.value)
    with pytest.raises(KeyPasswordError, match="not encrypted") as err:
        SigningKey.from_pem(plain, PASSWORD)
    failures.append(err.value)
    assert "wrong password" in str(failures[0])
    assert "encrypted" in str(failures[1])
    for exc in failures:
        assert exc.__cause__ is None
        assert exc.__suppress_context__ or exc.__context__ is None
        texts = [*_texts(exc), caplog.text]
        _assert_no_leak(texts, PASSWORD, WRONG, *_pem_lines(pem), *_pem_lines(plain))
        assert "Bad decrypt" not in str(exc)  # cryptography's own message does not come through


def test_empty_password_is_refused(ed_key: SigningKey) -> None:
    with pytest.raises(KeyPasswordError, match="empty"):
        ed_key.private_pem("")
    with pytest.raises(KeyPasswordError, match="empty"):
        SigningKey.from_pem(ed_key.private_pem(PASSWORD), "")
    with pytest.raises(TypeError, match="password"):
        ed_key.private_pem(1234)  # type: ignore[arg-type]


def test_weak_rsa_key_is_refused_on_load(tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = weak.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(WeakKeyError, match="1024 bits") as err:
        SigningKey.from_pem(pem)
    _assert_no_leak(_texts(err.value), *_pem_lines(pem))
    (tmp_path / "weak.pem").write_bytes(pem)
    with pytest.raises(WeakKeyError, match=r"weak\.pem"):
        SigningKey.load(tmp_path / "weak.pem")
    with pytest.raises(WeakKeyError):
        SigningKey(weak)


def test_traditional_rsa_pem_is_accepted(rsa_key: SigningKey) -> None:
    private = serialization.load_pem_private_key(rsa_key.private_pem(), None)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert SigningKey.from_pem(pem).fingerprint == rsa_key.fingerprint


def test_ec_key_is_unsupported() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    traditional = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    for pem in (pkcs8, traditional):
        with pytest.raises(UnsupportedKeyError, match="Ed25519 and RSA") as err:
            SigningKey.from_pem(pem)
        _assert_no_leak(_texts(err.value), *_pem_lines(pem))
    with pytest.raises(UnsupportedKeyError):
        SigningKey(private)


def test_openssh_key_is_unsupported() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    with pytest.raises(UnsupportedKeyError, match="OpenSSH"):
        SigningKey.from_pem(pem)


def test_public_key_is_not_a_private_key(ed_key: SigningKey) -> None:
    with pytest.raises(KeyFileError, match="public key") as err:
        SigningKey.from_pem(ed_key.public_pem())
    assert type(err.value) is KeyFileError


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nключ\n-----END PRIVATE KEY-----\n",
    ],
)
def test_garbage_is_a_key_file_error(data: bytes | str) -> None:
    with pytest.raises(KeyFileError) as err:
        SigningKey.from_pem(data)
    assert type(err.value) is KeyFileError
    assert err.value.__cause__ is None


def test_damaged_encrypted_key_is_a_password_error(ed_key: SigningKey) -> None:
    lines = ed_key.private_pem(PASSWORD).decode().splitlines()
    middle = lines[2]
    lines[2] = middle[:10] + ("A" if middle[10] != "A" else "B") + middle[11:]
    with pytest.raises(KeyPasswordError, match="damaged"):
        SigningKey.from_pem("\n".join(lines) + "\n", PASSWORD)


def test_from_pem_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="PEM"):
        SigningKey.from_pem(12)  # type: ignore[arg-type]


# -- files -------------------------------------------------------------------------------------


@posix_only
def test_save_writes_0600_and_refuses_to_overwrite(tmp_path: Path, ed_key: SigningKey) -> None:
    path = tmp_path / "keys" / "deribit.pem"
    assert ed_key.save(path) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert SigningKey.load(path).fingerprint == ed_key.fingerprint
    before = path.read_bytes()
    other = SigningKey.generate()
    with pytest.raises(KeyFileError, match="already exists"):
        other.save(path)
    assert path.read_bytes() == before
    other.save(path, overwrite=True)
    assert SigningKey.load(path).fingerprint == other.fingerprint
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["deribit.pem"]  # no temporary files


@posix_only
def test_save_is_0600_whatever_the_umask(tmp_path: Path, ed_key: SigningKey) -> None:
    old = os.umask(0)
    try:
        path = ed_key.save(tmp_path / "k.pem", PASSWORD)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SigningKey.load(path, PASSWORD).fingerprint == ed_key.fingerprint


@posix_only
def test_save_refuses_a_symlink_or_directory_in_the_way(tmp_path: Path, ed_key: SigningKey) -> None:
    target = tmp_path / "elsewhere.pem"
    target.write_text("keep me")
    link = tmp_path / "link.pem"
    link.symlink_to(target)
    with pytest.raises(KeyFileError, match="already exists"):
        ed_key.save(link)
    assert target.read_text() == "keep me"
    (tmp_path / "dir.pem").mkdir()
    with pytest.raises(KeyFileError):
        ed_key.save(tmp_path / "dir.pem", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.pem", "elsewhere.pem", "link.pem"]


def test_failed_write_leaves_nothing(
    tmp_path: Path, ed_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(KeyFileError, match="No space left") as err:
        ed_key.save(tmp_path / "k.pem", PASSWORD)
    _assert_no_leak(_texts(err.value), PASSWORD)
    assert list(tmp_path.iterdir()) == []


def test_link_unsupported_falls_back_but_still_refuses(
    tmp_path: Path, ed_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(src: object, dst: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    path = ed_key.save(tmp_path / "k.pem")
    assert SigningKey.load(path).fingerprint == ed_key.fingerprint
    with pytest.raises(KeyFileError, match="already exists"):
        SigningKey.generate().save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.pem"]


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read the key file"):
        SigningKey.load(tmp_path / "nope.pem")


def test_load_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "big.pem"
    path.write_bytes(b"A" * (2 << 20))
    with pytest.raises(KeyFileError, match="too large"):
        SigningKey.load(path)


def test_load_errors_name_the_file_and_keep_their_type(tmp_path: Path, ed_key: SigningKey) -> None:
    path = ed_key.save(tmp_path / "k.pem", PASSWORD)
    with pytest.raises(KeyPasswordError, match=r"k\.pem") as err:
        SigningKey.load(path, WRONG)
    _assert_no_leak(_texts(err.value), PASSWORD, WRONG, *_pem_lines(path.read_bytes()))
    assert err.value.__cause__ is None and err.value.__suppress_context__


# -- staying private ---------------------------------------------------------------------------


def test_repr_shows_kind_and_fingerprint_only(any_key: SigningKey) -> None:
    assert repr(any_key) == f"SigningKey(kind={any_key.kind!r}, fingerprint={any_key.fingerprint!r})"
    assert str(any_key) == repr(any_key)
    assert len(any_key.fingerprint) == 16
    int(any_key.fingerprint, 16)
    _assert_no_leak([repr(any_key), str(any_key), f"{any_key}"], *_pem_lines(any_key.private_pem())[1:-1])


def test_fingerprint_is_sha256_of_the_public_der(ed_key: SigningKey) -> None:
    import hashlib

    public = serialization.load_pem_public_key(ed_key.public_pem().encode())
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert ed_key.fingerprint == hashlib.sha256(der).hexdigest()[:16]


def test_key_refuses_pickling_and_mutation(ed_key: SigningKey) -> None:
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(ed_key)
    with pytest.raises(AttributeError):
        ed_key._kind = "rsa"
    with pytest.raises(AttributeError):
        ed_key.anything = 1
    assert copy.copy(ed_key) is ed_key
    assert copy.deepcopy(ed_key) is ed_key
    assert not hasattr(ed_key, "__dict__")


def test_importing_keys_loads_no_cryptography() -> None:
    code = (
        "import sys, deriv_runtime.auth.keys, deriv_runtime.auth.deribit_signing\n"
        "print('cryptography' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_names_are_documented() -> None:
    for name in keys_module.__all__:
        value = getattr(keys_module, name)
        if isinstance(value, type):
            assert value.__doc__, name


# -- KeySigner: asymmetric keys in public/auth and signed HTTP requests -------------------------


def test_key_signer_grant_params_verify(any_key: SigningKey) -> None:
    signer = KeySigner("GgUXjYUj", any_key)
    assert isinstance(signer, Signer)
    assert signer.asymmetric is True
    assert signer.key is any_key
    params = grant_params(signer, timestamp=1576074319000, nonce="1iqt2wls", data="ключ")
    assert params["grant_type"] == "client_signature"
    assert params["client_id"] == "GgUXjYUj"
    assert "=" not in params["signature"]
    message = b"1576074319000\n1iqt2wls\n" + "ключ".encode()
    assert string_to_sign(1576074319000, "1iqt2wls", "ключ") == message
    assert any_key.verify(message, params["signature"])
    accented = grant_params(signer, timestamp=1, nonce="n", data="é")["signature"]
    assert any_key.verify(b"1\nn\n\xc3\xa9", accented)  # UTF-8
    assert not any_key.verify(b"1\nn\n\xe9", accented)  # not Latin-1


def test_key_signer_http_header(any_key: SigningKey) -> None:
    uri = "/api/v2/private/get_current_deposit_address?currency=eth"
    header = http_authorization(KeySigner("GgUXjYUj", any_key), "GET", uri, timestamp=1, nonce="n0nce")
    scheme, _, rest = header.partition(" ")
    assert scheme == "deri-hmac-sha256"
    fields = dict(item.split("=", 1) for item in rest.split(","))
    assert list(fields) == ["id", "ts", "sig", "nonce"]
    assert fields["id"] == "GgUXjYUj"
    assert fields["ts"] == "1"
    assert fields["nonce"] == "n0nce"
    assert any_key.verify(b"1\nn0nce\nGET\n" + uri.encode() + b"\n\n", fields["sig"])
    assert any_key.verify(http_string_to_sign(1, "n0nce", "GET", uri), fields["sig"])


def test_key_signer_repr_and_pickling(any_key: SigningKey) -> None:
    signer = KeySigner("GgUXjYUj", any_key)
    assert repr(signer) == f"KeySigner(client_id='GgUXjYUj', kind={any_key.kind!r})"
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(signer)
    with pytest.raises(TypeError, match="SigningKey"):
        KeySigner("id", "not a key")  # type: ignore[arg-type]


def test_canary_password_never_shows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = SigningKey.generate()
    path = key.save(tmp_path / "k.pem", PASSWORD)
    pem_lines = _pem_lines(path.read_bytes()) + _pem_lines(key.private_pem())
    loaded = SigningKey.load(path, Secret(PASSWORD))
    signer = KeySigner("GgUXjYUj", loaded)
    texts = [repr(loaded), str(loaded), repr(signer), str(signer), f"{signer}", repr(grant_params(signer))]
    for attempt in (WRONG, None, ""):
        with pytest.raises(KeyPasswordError) as err:
            SigningKey.load(path, attempt)
        texts += _texts(err.value)
    with pytest.raises(KeyFileError) as exists:
        key.save(path, PASSWORD)
    texts += _texts(exists.value)
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    _assert_no_leak(texts, PASSWORD, WRONG, *[line for line in pem_lines if "-----" not in line])


# -- deribit-keygen ------------------------------------------------------------------------------


def _run_keygen(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from deriv_runtime.auth.keygen import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@posix_only
def test_keygen_writes_0600_and_prints_the_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "deribit.pem"
    code, out, err = _run_keygen(capsys, "--out", str(out_path))
    assert code == 0, err
    assert stat.S_IMODE(out_path.stat().st_mode) == 0o600
    key = SigningKey.load(out_path)
    assert key.kind == "ed25519"
    assert out == key.public_pem()
    assert "PRIVATE" not in out
    assert "create_api_key" in err and "public_key" in err
    assert key.fingerprint in err


def test_keygen_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "deribit.pem"
    assert _run_keygen(capsys, "--out", str(out_path))[0] == 0
    before = out_path.read_bytes()
    code, out, err = _run_keygen(capsys, "--out", str(out_path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "already exists" in err and "--force" in err
    assert out_path.read_bytes() == before
    code, out, err = _run_keygen(capsys, "--out", str(out_path), "--force")
    assert code == 0, err
    assert out_path.read_bytes() != before
    assert SigningKey.load(out_path).public_pem() == out


def test_keygen_password_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DERIBIT_TEST_KEYPASS", PASSWORD)
    out_path = tmp_path / "k.pem"
    code, out, err = _run_keygen(capsys, "--out", str(out_path), "--password-env", "DERIBIT_TEST_KEYPASS")
    assert code == 0, err
    assert out_path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert SigningKey.load(out_path, PASSWORD).public_pem() == out
    with pytest.raises(KeyPasswordError):
        SigningKey.load(out_path)
    with pytest.raises(KeyPasswordError):
        SigningKey.load(out_path, WRONG)
    _assert_no_leak([out, err], PASSWORD)


@pytest.mark.parametrize("value", [None, ""])
def test_keygen_password_env_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("DERIBIT_TEST_KEYPASS", raising=False)
    else:
        monkeypatch.setenv("DERIBIT_TEST_KEYPASS", value)
    out_path = tmp_path / "k.pem"
    code, _, err = _run_keygen(capsys, "--out", str(out_path), "--password-env", "DERIBIT_TEST_KEYPASS")
    assert code == 2
    assert err.count("\n") == 1 and "DERIBIT_TEST_KEYPASS" in err
    assert not out_path.exists()


def test_keygen_password_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    out_path = tmp_path / "k.pem"
    code, out, err = _run_keygen(capsys, "--out", str(out_path), "--password-stdin")
    assert code == 0, err
    assert SigningKey.load(out_path, PASSWORD).public_pem() == out
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = _run_keygen(capsys, "--out", str(tmp_path / "k2.pem"), "--password-stdin")
    assert code == 2 and "standard input" in err


def test_keygen_ask_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    answers = iter([PASSWORD, PASSWORD, PASSWORD, WRONG])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    out_path = tmp_path / "k.pem"
    code, out, err = _run_keygen(capsys, "--out", str(out_path), "--ask-password")
    assert code == 0, err
    assert SigningKey.load(out_path, PASSWORD).public_pem() == out
    code, out, err = _run_keygen(capsys, "--out", str(tmp_path / "k2.pem"), "--ask-password")
    assert code == 2 and "do not match" in err
    assert not (tmp_path / "k2.pem").exists()
    _assert_no_leak([out, err], PASSWORD, WRONG)


def test_keygen_rsa_and_public_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path, pub_path = tmp_path / "k.pem", tmp_path / "k.pub"
    code, out, err = _run_keygen(
        capsys, "--type", "rsa", "--bits", "2048", "--out", str(out_path), "--public-out", str(pub_path)
    )
    assert code == 0, err
    key = SigningKey.load(out_path)
    assert (key.kind, key.key_size) == ("rsa", 2048)
    assert pub_path.read_text() == out == key.public_pem()
    if os.name == "posix":
        assert stat.S_IMODE(pub_path.stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ((), "--out"),
        (("--type", "rsa", "--bits", "1024"), "2048"),
        (("--type", "ec"), "invalid choice"),
        (("--bits", "3072"), "RSA keys only"),
        (("--type", "rsa", "--bits", "many"), "invalid int"),
        (("--password-env", "X", "--password-stdin"), "not allowed with"),
        (("--password", "hunter2"), "unrecognized"),
    ],
)
def test_keygen_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], needle: str
) -> None:
    out_path = tmp_path / "k.pem"
    full = [*argv, "--out", str(out_path)] if argv else []
    code, out, err = _run_keygen(capsys, *full)
    assert code == 2
    assert out == ""
    assert err.startswith("deribit-keygen: error: ") and err.count("\n") == 1, err
    assert needle in err
    assert "hunter2" not in err
    assert not out_path.exists()


def test_keygen_same_file_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "k.pem")
    code, _, err = _run_keygen(capsys, "--out", path, "--public-out", path)
    assert code == 2 and "different" in err


def test_keygen_runs_as_a_module(tmp_path: Path) -> None:
    out_path = tmp_path / "k.pem"
    env = {**os.environ, "DERIBIT_TEST_KEYPASS": PASSWORD}
    done = subprocess.run(
        [sys.executable, "-m", "deriv_runtime.auth.keygen", "--out", str(out_path),
         "--password-env", "DERIBIT_TEST_KEYPASS"],
        capture_output=True, text=True, env=env, check=False, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert SigningKey.load(out_path, PASSWORD).public_pem() == done.stdout
    _assert_no_leak([done.stdout, done.stderr], PASSWORD)
    helped = subprocess.run(
        [sys.executable, "-m", "deriv_runtime.auth.keygen", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert helped.returncode == 0 and "--password-env" in helped.stdout
