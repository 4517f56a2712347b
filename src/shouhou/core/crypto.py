"""Encryption at rest for buyers' personal data (phones, addresses).

AES-256-GCM; each stored value is `enc1:<key id>:<base64url(nonce || ciphertext)>`, so keys
can be rotated: the key ring holds the current key and older ones that still decrypt.
The ring comes from SHOUHOU_FIELD_KEY_FILE (JSON `{"current": "<id>", "keys": {"<id>":
"<base64 32 bytes>"}}`) or, without one, a single key derived from SHOUHOU_SECRET_KEY.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

PREFIX = "enc1"


@functools.cache
def key_ring() -> tuple[str, dict[str, bytes]]:
    path = settings.SHOUHOU_FIELD_KEY_FILE
    if path and Path(path).exists():
        data = json.loads(Path(path).read_text())
        keys = {kid: base64.b64decode(v) for kid, v in data["keys"].items()}
        return data["current"], keys
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"shouhou-field-key", info=b"v1"
    ).derive(settings.SECRET_KEY.encode())
    return "s1", {"s1": derived}


def blind_index_key() -> bytes:
    return hashlib.sha256(b"shouhou-blind-index:" + settings.SECRET_KEY.encode()).digest()


def encrypt(plain: str) -> str:
    kid, keys = key_ring()
    nonce = os.urandom(12)
    ct = AESGCM(keys[kid]).encrypt(nonce, plain.encode(), kid.encode())
    return f"{PREFIX}:{kid}:{base64.urlsafe_b64encode(nonce + ct).decode()}"


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX + ":"):
        return stored  # legacy/plain value (never written by this code)
    _, kid, blob = stored.split(":", 2)
    raw = base64.urlsafe_b64decode(blob)
    return AESGCM(key_ring()[1][kid]).decrypt(raw[:12], raw[12:], kid.encode()).decode()


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
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        if isinstance(value, str) and value.startswith(PREFIX + ":"):
            return value
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
