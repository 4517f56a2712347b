"""Encryption at rest for buyers' personal data (phones, addresses).

AES-256-GCM; each stored value is `enc1:<key id>:<base64url(nonce || ciphertext)>`, so keys
can be rotated: the key ring holds the current key and older ones that still decrypt.
The ring comes from SHOUHOU_FIELD_KEY_FILE (default: field-keys.json in SHOUHOU_DATA_DIR;
JSON `{"current": "<id>", "keys": {"<id>": "<base64 32 bytes>"}}`, written by `shouhou keys
rotate`) or, while there is none, a single key "s1" derived from SHOUHOU_SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

PREFIX = "enc1"


KEY_FILE_NAME = "field-keys.json"
# How often a process looks at the key file's mtime: a running server picks up a rotation
# (values written under the new key) within about a second, without a stat per value.
RECHECK_SECONDS = 1.0


class FieldKeyError(RuntimeError):
    """The key ring cannot decrypt a stored value, or the key file is unusable."""


class Ciphertext(str):
    """A value that is already `enc1:<kid>:…` ciphertext, made by `encrypt` (or read back
    from a column by code that moves ciphertext without decrypting it, like the key
    rotation). Only this type passes EncryptedTextField unencrypted: a plain str that merely
    looks like ciphertext — "enc1:zz:AAAA" posted by an integrator — is encrypted like any
    other text, so it reads back as the literal text that was sent."""

    __slots__ = ()


def key_file_path() -> Path:
    """SHOUHOU_FIELD_KEY_FILE, else field-keys.json in the data directory."""
    configured = getattr(settings, "SHOUHOU_FIELD_KEY_FILE", "")
    if configured:
        return Path(configured)
    return Path(settings.DATA_DIR) / KEY_FILE_NAME


def derived_key() -> bytes:
    """The key id "s1": derived from SECRET_KEY, what a shop runs on until its first rotation."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"shouhou-field-key", info=b"v1").derive(
        settings.SECRET_KEY.encode()
    )


def read_key_file(path: Path) -> dict:
    """The key file as written by `shouhou keys`: {"current": id, "keys": {id: base64}}."""
    try:
        data = json.loads(path.read_text())
        keys = {str(kid): base64.b64decode(v, validate=True) for kid, v in data["keys"].items()}
        current = str(data["current"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FieldKeyError(
            f"字段密钥文件无法读取 / the field key file {path} is unreadable or malformed: {exc}"
        ) from exc
    if current not in keys or any(len(k) != 32 for k in keys.values()):
        raise FieldKeyError(
            f"字段密钥文件不完整 / the field key file {path} has no current key "
            f"{current!r} or a key that is not 32 bytes"
        )
    return {**data, "current": current, "keys": keys}


class _Ring:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked_at = -1e9
        self.stamp: tuple | None = None
        self.value: tuple[str, dict[str, bytes]] | None = None

    def get(self, *, force: bool = False) -> tuple[str, dict[str, bytes]]:
        now = time.monotonic()
        if not force and self.value is not None and now - self.checked_at < RECHECK_SECONDS:
            return self.value
        with self.lock:
            path = key_file_path()
            try:
                st = path.stat()
                stamp: tuple = (str(path), st.st_mtime_ns, st.st_size, st.st_ino)
            except FileNotFoundError:
                stamp = (str(path), None, settings.SECRET_KEY)
            if self.value is None or stamp != self.stamp:
                if stamp[1] is None:
                    self.value = ("s1", {"s1": derived_key()})
                else:
                    data = read_key_file(path)
                    self.value = (data["current"], data["keys"])
                self.stamp = stamp
            self.checked_at = now
            return self.value

    def cache_clear(self) -> None:
        with self.lock:
            self.value, self.stamp, self.checked_at = None, None, -1e9


_ring = _Ring()


def key_ring(*, force: bool = False) -> tuple[str, dict[str, bytes]]:
    """(current key id, {key id: 32-byte key}), re-read when the key file changes."""
    return _ring.get(force=force)


key_ring.cache_clear = _ring.cache_clear  # type: ignore[attr-defined]


def stored_key_id(stored: str | None) -> str | None:
    """The key id of a stored value ("enc1:<kid>:…"), None for an empty or plain value."""
    if not stored or not stored.startswith(PREFIX + ":"):
        return None
    return stored.split(":", 2)[1]


def blind_index_key() -> bytes:
    return hashlib.sha256(b"shouhou-blind-index:" + settings.SECRET_KEY.encode()).digest()


def encrypt(plain: str) -> Ciphertext:
    kid, keys = key_ring()
    nonce = os.urandom(12)
    ct = AESGCM(keys[kid]).encrypt(nonce, plain.encode(), kid.encode())
    return Ciphertext(f"{PREFIX}:{kid}:{base64.urlsafe_b64encode(nonce + ct).decode()}")


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX + ":"):
        return stored  # legacy/plain value (never written by this code)
    _, kid, blob = stored.split(":", 2)
    keys = key_ring()[1]
    if kid not in keys:
        keys = key_ring(force=True)[1]  # rotated less than a second ago?
    if kid not in keys:
        raise FieldKeyError(
            f"缺少字段密钥 {kid!r}，请恢复密钥文件 / field key {kid!r} is not in the key ring "
            f"({key_file_path()}); restore the key file that holds it" + _secret_key_hint()
        )
    try:
        raw = base64.urlsafe_b64decode(blob)
        return AESGCM(keys[kid]).decrypt(raw[:12], raw[12:], kid.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise FieldKeyError(
            f"字段密钥 {kid!r} 无法解密（密钥错误或数据损坏）/ field key {kid!r} does not "
            "decrypt this value: a wrong key under that id, or a damaged value"
            + (_secret_key_hint() if kid == "s1" else "")
        ) from exc


def _secret_key_hint() -> str:
    """While there is no key file the only key is "s1", derived from SECRET_KEY: a value
    that does not decrypt then most likely means SECRET_KEY changed."""
    if key_file_path().exists():
        return ""
    return (
        f". 密钥文件 {key_file_path()} 不存在，唯一的密钥 s1 由 SECRET_KEY 派生：SECRET_KEY "
        "是否变了？/ there is no key file, and the only key, s1, is derived from SECRET_KEY: "
        "was SECRET_KEY changed (SHOUHOU_SECRET_KEY, or the secret-key file in "
        "SHOUHOU_DATA_DIR)? Restore the one the data was written under — an install that "
        "never set SHOUHOU_SECRET_KEY ran on the development key — or restore the key file"
    )


def blind_index(value: str) -> str:
    """A keyed hash to look a value up by equality without storing it in clear."""
    return hmac.new(blind_index_key(), value.strip().encode(), hashlib.sha256).hexdigest()[:32]


class EncryptedTextField(models.TextField):
    """Stores ciphertext; Python code sees the plain string."""

    def from_db_value(self, value, expression, connection):  # noqa: ARG002
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        if isinstance(value, Ciphertext):
            return str(value)  # already encrypted by our own code (see Ciphertext)
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        # Every plain string is encrypted, "enc1:…"-looking ones included: only the
        # Ciphertext type passes through, never a string a client chose.
        return encrypt(str(value))


def mask_phone(phone: str | None) -> str:
    """138****5678 — what every view shows unless the role may reveal."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 7:
        return digits[:1] + "*" * max(len(digits) - 2, 1) + digits[-1:]
    return digits[:3] + "****" + digits[-4:]


def mask_address(address: str | None) -> str:
    """Keep the province/city part a person recognises; hide the street and door number."""
    if not address:
        return ""
    keep = min(6, max(len(address) // 3, 2))
    return address[:keep] + "****"


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    return name[0] + "*" * max(len(name) - 1, 1)
