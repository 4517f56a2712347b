"""Writes the buyer portal adds around the case services: a request with its photos in
one go, more evidence, and one-time form tokens.

The case rules themselves live in cases/services.py and cases/evidence.py; this module
only makes sure a request with a bad photo leaves nothing behind, and that a replayed
form does not open a second case.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from shouhou.cases.evidence import add_evidence, inspect_file
from shouhou.cases.models import Case, Evidence
from shouhou.cases.policies import current_policy
from shouhou.cases.services import LineRequest, open_case
from shouhou.core.errors import ShouhouError
from shouhou.orders.models import Channel

from .session import PortalBuyer

FORM_TOKENS_KEY = "shouhou_portal_forms"
MAX_FORM_TOKENS = 20
FILE_ERRORS = frozenset({"evidence_invalid", "payload_too_large"})


class FileRefused(Exception):
    """One of the uploaded files failed its check; nothing was written."""

    def __init__(self, name: str, error: ShouhouError) -> None:
        self.name = name
        self.error = error
        super().__init__(f"{name}: {error.code}")


@dataclass(frozen=True)
class RequestForm:
    type: str
    reason: str
    lines: list[LineRequest]
    description: str = ""
    refund_fen: int | None = None


def check_files(files: Sequence[UploadedFile], *, room: int) -> None:
    """Check every file the way add_evidence will, before anything is written.

    `room`: how many more files the case may take under the shop's policy.
    """
    if len(files) > room:
        raise ShouhouError("too_many_evidence", limit=room)
    limit = settings.SHOUHOU_MAX_EVIDENCE_BYTES
    for f in files:
        name = f.name or "?"
        if f.size is not None and f.size > limit:
            raise FileRefused(name, ShouhouError("payload_too_large", limit=limit))
        f.seek(0)
        data = f.read(limit + 1)
        f.seek(0)
        if len(data) > limit:
            raise FileRefused(name, ShouhouError("payload_too_large", limit=limit))
        try:
            inspect_file(data)
        except ShouhouError as exc:
            raise FileRefused(name, exc) from None


def _store(
    case_id: int, buyer: PortalBuyer, files: Sequence[UploadedFile], note: str = ""
) -> list[Evidence]:
    stored: list[Evidence] = []
    try:
        for f in files:
            f.seek(0)
            try:
                stored.append(add_evidence(case_id, buyer.actor, f, note))
            except ShouhouError as exc:
                if exc.code in FILE_ERRORS:
                    raise FileRefused(f.name or "?", exc) from None
                raise
    except BaseException:
        # The rows roll back with the caller's transaction; the files on disk do not.
        for ev in stored:
            ev.file.storage.delete(ev.file.name)
        raise
    return stored


def open_request(buyer: PortalBuyer, form: RequestForm, files: Sequence[UploadedFile] = ()) -> Case:
    """Open the buyer's request and store its photos, all or nothing.

    The files are checked first, so a refused photo means no case is opened; the case and
    its evidence then commit together.
    """
    policy = current_policy(buyer.shop)
    check_files(files, room=policy.max_evidence_files)
    with transaction.atomic():
        case = open_case(
            buyer.shop,
            buyer.actor,
            order=buyer.order,
            type=form.type,
            reason=form.reason,
            lines=form.lines,
            description=form.description,
            channel=Channel.PORTAL,
            refund_fen=form.refund_fen,
        )
        _store(case.id, buyer, files)
    return case


def add_files(
    buyer: PortalBuyer, case_id: int, files: Sequence[UploadedFile], note: str = ""
) -> list[Evidence]:
    """More evidence on a case: every file or none."""
    if not files:
        raise ShouhouError("validation_error", detail="请选择文件 / choose a file")
    policy = current_policy(buyer.shop)
    have = Evidence.objects.filter(case_id=case_id, shop_id=buyer.shop.id).count()
    check_files(files, room=max(policy.max_evidence_files - have, 0))
    with transaction.atomic():
        return _store(case_id, buyer, files, note)


# --- one-time form tokens -----------------------------------------------------------------
def issue_form_token(session: SessionBase) -> str:
    """A token the request form carries; the first POST with it opens a case, later ones
    (a replay, a refresh, a second tab) are pointed at that case instead."""
    token = secrets.token_urlsafe(16)
    tokens = dict(session.get(FORM_TOKENS_KEY) or {})
    tokens[token] = None
    while len(tokens) > MAX_FORM_TOKENS:
        tokens.pop(next(iter(tokens)))
    session[FORM_TOKENS_KEY] = tokens
    return token


def form_token_state(session: SessionBase, token: str) -> tuple[bool, int | None]:
    """(known, case id it already opened)."""
    tokens = session.get(FORM_TOKENS_KEY) or {}
    if not token or token not in tokens:
        return False, None
    value = tokens[token]
    return True, value if isinstance(value, int) else None


def spend_form_token(session: SessionBase, token: str, case_id: int) -> None:
    tokens = dict(session.get(FORM_TOKENS_KEY) or {})
    tokens[token] = case_id
    session[FORM_TOKENS_KEY] = tokens
