"""Where the outbox may send: public addresses only, unless the operator allows private ones.

A shop admin types a webhook or robot URL. Without this guard that URL could point the
deliverer at the deployment's own network — the database, Redis, a cloud metadata service
at 169.254.169.254 — and the delivery log would show what answered (server-side request
forgery). So loopback, private, link-local, shared, reserved and multicast addresses are
refused, both when the URL is saved (for literal addresses and localhost names) and at each
delivery (after DNS resolution, since a name can point anywhere), and redirects are never
followed. `SHOUHOU_WEBHOOK_ALLOW_PRIVATE=1` lifts it for a merchant whose ERP sits on the
same LAN (and for the test suite, whose receivers listen on 127.0.0.1).

What this does not stop: a name that resolves to a public address when checked and to a
private one a moment later (DNS rebinding). Pinning the connection to the checked address
would need our own HTTPS connection class; noted in README.
"""

from __future__ import annotations

import ipaddress
import socket

from django.conf import settings

LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def private_allowed() -> bool:
    return bool(getattr(settings, "SHOUHOU_WEBHOOK_ALLOW_PRIVATE", False))


def _not_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def literal_refusal(host: str) -> str | None:
    """Why a host as written is not allowed (a private IP literal, localhost), or None."""
    if private_allowed():
        return None
    name = host.strip("[]").lower().rstrip(".")
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return name
    try:
        return name if _not_public(name) else None
    except ValueError:
        return None  # a name: checked after resolution, at delivery


def resolved_refusal(host: str, port: int | None) -> str | None:
    """The first non-public address the host resolves to, or None when all are public."""
    if private_allowed():
        return None
    refused = literal_refusal(host)
    if refused:
        return refused
    infos = socket.getaddrinfo(host.strip("[]"), port or 443, proto=socket.IPPROTO_TCP)
    for info in infos:
        address = str(info[4][0])
        if _not_public(address):
            return address
    return None
