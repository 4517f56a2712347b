"""Production settings: the deploy check, the secret key, cookies and headers."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import make_staff

PY = sys.executable


def run_settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    # A clean production-like environment: none of ours, and not the browser tests'
    # DJANGO_ALLOW_ASYNC_UNSAFE (set process-wide when they run in the same session).
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SHOUHOU_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    base.update(env)
    base["DJANGO_SETTINGS_MODULE"] = "shouhou.settings"
    return subprocess.run(
        [PY, "-c", "import django;django.setup();" + code],
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_the_production_environment(tmp_path):
    env = {
        "SHOUHOU_DATA_DIR": str(tmp_path),
        "SHOUHOU_HTTPS": "1",
        "SHOUHOU_SECRET_KEY": "k" + os.urandom(40).hex(),
        "SHOUHOU_ALLOWED_HOSTS": "shouhou.example.com",
    }
    out = run_settings(
        env,
        "from django.core.management import call_command;"
        "call_command('check', deploy=True, fail_level='WARNING')",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout + out.stderr


def test_check_deploy_fails_without_https(tmp_path):
    """The check is not vacuous: plain HTTP leaves cookies insecure and it says so."""
    env = {"SHOUHOU_DATA_DIR": str(tmp_path), "SHOUHOU_SECRET_KEY": "k" + os.urandom(40).hex()}
    out = run_settings(
        env,
        "from django.core.management import call_command;"
        "call_command('check', deploy=True, fail_level='WARNING')",
    )
    assert out.returncode != 0
    assert "SESSION_COOKIE_SECURE" in out.stderr + out.stdout


def test_outside_debug_the_secret_comes_from_a_private_file_made_once(tmp_path):
    code = "from django.conf import settings;print(settings.SECRET_KEY)"
    first = run_settings({"SHOUHOU_DATA_DIR": str(tmp_path)}, code)
    assert first.returncode == 0, first.stderr
    key_file = Path(tmp_path) / "secret-key"
    mode = stat.S_IMODE(key_file.stat().st_mode)
    assert mode == 0o600, oct(mode)
    secret = first.stdout.strip()
    assert secret == key_file.read_text().strip()
    assert len(secret) >= 50 and "insecure" not in secret
    # Stable across restarts: sessions and the field-encryption key depend on it.
    again = run_settings({"SHOUHOU_DATA_DIR": str(tmp_path)}, code)
    assert again.stdout.strip() == secret
    # Another data dir, another secret; SHOUHOU_SECRET_KEY wins over the file.
    other = run_settings({"SHOUHOU_DATA_DIR": str(tmp_path / "b")}, code)
    assert other.stdout.strip() != secret
    env = {"SHOUHOU_DATA_DIR": str(tmp_path), "SHOUHOU_SECRET_KEY": "x" * 60}
    assert run_settings(env, code).stdout.strip() == "x" * 60
    # Only DEBUG uses the development key.
    debug = run_settings({"SHOUHOU_DATA_DIR": str(tmp_path / "d"), "SHOUHOU_DEBUG": "1"}, code)
    assert "insecure" in debug.stdout


def test_https_turns_on_secure_cookies_hsts_and_the_redirect(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        " s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_HTTPONLY)"
    )
    out = run_settings({"SHOUHOU_DATA_DIR": str(tmp_path), "SHOUHOU_HTTPS": "1"}, code)
    assert out.stdout.split(maxsplit=4)[:4] == ["True", "True", "True", "31536000"]
    assert "HTTP_X_FORWARDED_PROTO" in out.stdout and out.stdout.strip().endswith("True")


def headers_ok(resp, page: bool = True) -> None:
    assert resp["X-Frame-Options"] == "DENY"
    assert resp["X-Content-Type-Options"] == "nosniff"
    assert resp["Referrer-Policy"] == "same-origin"
    assert resp["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in resp["Permissions-Policy"]
    if not page:
        assert "Content-Security-Policy" not in resp
        return
    csp = resp["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]


@pytest.mark.parametrize("path", ["/login/", "/portal/", "/api/v1/openapi.json", "/help/demo/"])
def test_responses_carry_the_security_headers(shop, path):
    headers_ok(Client().get(path), page=not path.startswith("/api/"))


def test_inline_scripts_carry_this_responses_nonce(shop):
    """Every inline <script> in a page has the nonce the CSP header names, so it runs; an
    injected one would not."""
    client = Client()
    client.force_login(make_staff(shop, "admin").user)
    pages = ["/wb/", "/wb/settings/api-keys/", "/portal/"]
    for path in pages:
        resp = client.get(path)
        assert resp.status_code == 200, path
        headers_ok(resp)
        nonce = re.search(r"'nonce-([^']+)'", resp["Content-Security-Policy"]).group(1)
        for tag in re.findall(r"<script\b[^>]*>", resp.content.decode()):
            if "src=" in tag or 'type="application/json"' in tag:
                continue
            assert f'nonce="{nonce}"' in tag, (path, tag)
    # A fresh nonce per response.
    a = client.get("/wb/")["Content-Security-Policy"]
    b = client.get("/wb/")["Content-Security-Policy"]
    assert a != b


def test_no_template_uses_inline_event_handlers_or_unnonced_scripts():
    root = Path(__file__).resolve().parents[2] / "src" / "shouhou"
    bad = []
    for path in root.rglob("*.html"):
        text = path.read_text()
        for m in re.finditer(r"<script\b[^>]*>", text):
            tag = m.group(0)
            if "src=" not in tag and "application/json" not in tag and "csp_nonce" not in tag:
                bad.append(f"{path.relative_to(root)}: {tag}")
        for m in re.finditer(r"\son[a-z]+\s*=\s*[\"']", text):
            bad.append(f"{path.relative_to(root)}: inline handler {m.group(0).strip()}")
        if "javascript:" in text:
            bad.append(f"{path.relative_to(root)}: javascript: URL")
    assert not bad, "\n".join(bad)
