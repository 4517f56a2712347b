"""How one outbox message reaches one endpoint.

Every channel gets the same stable message id on every attempt, so a receiver can drop
a repeat (delivery is at least once: a deliverer killed after the receiver answered but
before the row was marked sends it again).

Signed webhooks (documented in README.md, "Notifications"):

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <message id>            also X-Shouhou-Message-Id
    X-Shouhou-Topic: refund.issued
    X-Shouhou-Timestamp: <unix seconds>
    X-Shouhou-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

    {"id": "<message id>", "topic": "refund.issued", "shop": "<shop code>",
     "created_at": "<ISO 8601>", "data": {...}}

`verify_signature` is the receiver's check (constant-time, with a freshness window).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import smtplib
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from django.conf import settings

from . import netguard

SIGNATURE_HEADER = "X-Shouhou-Signature"
TIMESTAMP_HEADER = "X-Shouhou-Timestamp"
MESSAGE_ID_HEADER = "X-Shouhou-Message-Id"
TOPIC_HEADER = "X-Shouhou-Topic"
SIGNATURE_TOLERANCE = 300  # seconds either side

TOPIC_TITLES = {
    "case.opened": "新售后申请",
    "case.status_changed": "售后状态变化",
    "refund.issued": "退款指令已发出",
    "test.ping": "测试消息",
}


class DeliveryError(Exception):
    """The endpoint did not take the message; try again later."""


@dataclass(frozen=True)
class Envelope:
    message_id: str
    topic: str
    shop_code: str
    created_at: str
    data: dict[str, Any]

    def body(self) -> bytes:
        return json.dumps(
            {
                "id": self.message_id,
                "topic": self.topic,
                "shop": self.shop_code,
                "created_at": self.created_at,
                "data": self.data,
            },
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    def title(self) -> str:
        return f"[shouhou 售后] {TOPIC_TITLES.get(self.topic, self.topic)}"

    def lines(self) -> list[str]:
        d = self.data
        out = [f"店铺 shop: {self.shop_code}", f"主题 topic: {self.topic}"]
        if "case_number" in d:
            out.append(f"售后单 case: {d['case_number']}")
        if "from_status" in d or "to_status" in d:
            out.append(f"状态 status: {d.get('from_status') or '—'} → {d.get('to_status')}")
        if "reference" in d:
            out.append(f"退款指令 refund: {d['reference']}")
        if "amount_fen" in d:
            out.append(f"金额 amount: {int(d['amount_fen']) / 100:.2f} 元")
        out.append(f"消息编号 message id: {self.message_id}")
        return out


# --- signatures ---------------------------------------------------------------------------
def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE,
) -> bool:
    """The receiver's check: the signature matches and the timestamp is fresh."""
    if not secret or not timestamp or not signature:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature.strip())


def dingtalk_signed_url(url: str, secret: str, *, timestamp_ms: int | None = None) -> str:
    """DingTalk's 加签: sign = urlencode(base64(HMAC-SHA256(secret, f"{ts}\\n{secret}")))."""
    if not secret:
        return url
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    sign_value = urllib.parse.quote_plus(base64.b64encode(mac).decode())
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={ts}&sign={sign_value}"


# --- payloads -----------------------------------------------------------------------------
def wecom_payload(env: Envelope) -> dict:
    """WeCom group robot, msgtype markdown (content ≤ 4096 bytes)."""
    lines = [f"**{env.title()}**", *(f"> {line}" for line in env.lines())]
    return {"msgtype": "markdown", "markdown": {"content": "\n".join(lines)[:4000]}}


def dingtalk_payload(env: Envelope) -> dict:
    """DingTalk custom robot, msgtype markdown (title + text)."""
    text = "\n\n".join([f"#### {env.title()}", *(f"- {line}" for line in env.lines())])
    return {"msgtype": "markdown", "markdown": {"title": env.title(), "text": text}}


# --- transports ---------------------------------------------------------------------------
class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is the receiver's answer, not an invitation to post somewhere else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ARG002
        return None


class _Deadline:
    """One send's whole time budget (connect, TLS, request, status line, headers, body).

    urllib's timeout applies to each socket operation, so a receiver dripping a byte every
    few seconds would hold the delivery — and the huey worker — indefinitely, and after the
    row's lease another deliverer would send it again. A watchdog timer shuts the socket
    down at the deadline: whatever the send is blocked in then fails at once.
    """

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        # A duplicate descriptor of the same socket: TLS wrapping detaches the original
        # object, and shutdown(2) acts on the socket whichever descriptor names it.
        with self._lock:
            dup = sock.dup()
            self._socks.append(dup)
            if self.expired:
                self._shut(dup)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._socks:
                self._shut(sock)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._socks:
                sock.close()
            self._socks.clear()


def _deadline_connection(base: type[http.client.HTTPConnection], deadline: _Deadline):
    def make(host, **kwargs):
        conn = base(host, **kwargs)
        create = conn._create_connection

        def create_connection(address, timeout, *args, **kw):
            sock = create(address, max(0.001, min(timeout, deadline.remaining())), *args, **kw)
            deadline.watch(sock)
            return sock

        conn._create_connection = create_connection
        return conn

    return make


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_deadline_connection(http.client.HTTPConnection, req.deadline), req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        extra = {"context": self._context}
        if getattr(self, "_check_hostname", None) is not None:  # Python < 3.12
            extra["check_hostname"] = self._check_hostname
        return self.do_open(
            _deadline_connection(http.client.HTTPSConnection, req.deadline), req, **extra
        )


_OPENER = urllib.request.build_opener(_NoRedirects, _DeadlineHTTPHandler, _DeadlineHTTPSHandler)
MAX_ANSWER = 64 * 1024  # what is kept of a receiver's answer


def _read(resp, limit: int, deadline: _Deadline) -> bytes:
    reader = getattr(resp, "read1", None) or resp.read  # read1: what has arrived, no waiting
    chunks, size = [], 0
    while size < limit and deadline.remaining() > 0:
        chunk = reader(min(8192, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST and return (status, the first MAX_ANSWER bytes of the answer), all within
    SHOUHOU_OUTBOX_TIMEOUT seconds in total, or DeliveryError."""
    parts = urllib.parse.urlsplit(url)
    try:
        refused = netguard.resolved_refusal(parts.hostname or "", parts.port)
    except OSError as exc:
        raise DeliveryError(f"域名解析失败 cannot resolve {parts.hostname}: {exc}") from exc
    if refused:
        raise DeliveryError(
            f"拒绝发往内网地址 refusing a non-public address ({refused}); "
            "SHOUHOU_WEBHOOK_ALLOW_PRIVATE=1 allows it"
        )
    timeout = float(settings.SHOUHOU_OUTBOX_TIMEOUT)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    deadline = request.deadline = _Deadline(timeout)
    try:
        try:
            with _OPENER.open(request, timeout=timeout) as resp:
                answer = resp.status, _read(resp, MAX_ANSWER, deadline)
        except urllib.error.HTTPError as exc:
            answer = exc.code, _read(exc, 2048, deadline) if exc.fp else b""
        if deadline.expired or deadline.remaining() <= 0:
            raise DeliveryError(f"超时 no complete answer within {timeout:g} s")
        return answer
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        if deadline.expired:
            raise DeliveryError(f"超时 no complete answer within {timeout:g} s") from exc
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"连接失败 connection failed: {reason}") from exc
    finally:
        deadline.close()


def send_webhook(url: str, secret: str, env: Envelope) -> None:
    body = env.body()
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "shouhou-outbox/1",
        "Idempotency-Key": env.message_id,
        MESSAGE_ID_HEADER: env.message_id,
        TOPIC_HEADER: env.topic,
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(secret, ts, body),
    }
    status, text = _post(url, body, headers)
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}: {text[:200].decode(errors='replace')}")


def _send_robot(url: str, payload: dict, env: Envelope) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    status, text = _post(
        url,
        body,
        {"Content-Type": "application/json; charset=utf-8", MESSAGE_ID_HEADER: env.message_id},
    )
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}: {text[:200].decode(errors='replace')}")
    try:
        answer = json.loads(text or b"{}")
    except ValueError as exc:
        raise DeliveryError(f"robot answered non-JSON: {text[:200]!r}") from exc
    # Both robots answer 200 with {"errcode": 0, "errmsg": "ok"}; anything else is a refusal.
    if answer.get("errcode", 0) != 0:
        raise DeliveryError(f"robot errcode {answer.get('errcode')}: {answer.get('errmsg')}")


def send_wecom(url: str, env: Envelope) -> None:
    _send_robot(url, wecom_payload(env), env)


def send_dingtalk(url: str, secret: str, env: Envelope) -> None:
    _send_robot(dingtalk_signed_url(url, secret), dingtalk_payload(env), env)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str
    password: str
    ssl: bool
    starttls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """smtp://user:pass@host:25, smtp://host:587?starttls=1, smtps://host:465."""
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in {"smtp", "smtps"}:
            raise DeliveryError(f"SHOUHOU_SMTP_URL: unsupported scheme {parsed.scheme!r}")
        query = urllib.parse.parse_qs(parsed.query)
        use_ssl = parsed.scheme == "smtps"
        return cls(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or (465 if use_ssl else 25),
            user=urllib.parse.unquote(parsed.username or ""),
            password=urllib.parse.unquote(parsed.password or ""),
            ssl=use_ssl,
            starttls=query.get("starttls", ["0"])[-1] in {"1", "true", "yes"},
        )


def send_email(recipients: list[str], env: Envelope) -> None:
    if not settings.SHOUHOU_SMTP_URL:
        raise DeliveryError("未配置 SHOUHOU_SMTP_URL / no SMTP server configured")
    if not recipients:
        raise DeliveryError("没有收件人 / no recipients")
    cfg = SmtpConfig.from_url(settings.SHOUHOU_SMTP_URL)
    msg = EmailMessage()
    msg["Subject"] = env.title()
    msg["From"] = settings.SHOUHOU_SMTP_FROM
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    # The same Message-ID on every attempt: mail systems drop a repeat by it.
    msg["Message-ID"] = f"<{env.message_id}@shouhou>"
    msg[MESSAGE_ID_HEADER] = env.message_id
    msg[TOPIC_HEADER] = env.topic
    msg.set_content(
        "\n".join([*env.lines(), "", json.dumps(env.data, ensure_ascii=False, indent=2)])
    )
    timeout = settings.SHOUHOU_OUTBOX_TIMEOUT
    try:
        if cfg.ssl:
            client = smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)
        with client:
            if cfg.starttls:
                client.starttls(context=ssl.create_default_context())
            if cfg.user:
                client.login(cfg.user, cfg.password)
            client.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {exc}") from exc
