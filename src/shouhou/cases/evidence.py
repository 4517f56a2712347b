"""Evidence on a case (凭证): photos of the damage, the waybill, a PDF, a short video.

The file's type is decided by its content, never by its name or the client's Content-Type:
images must open in Pillow as JPEG, PNG, WebP or GIF; PDFs start with `%PDF-`; MP4 videos
carry an `ftyp` box. Images are re-encoded, which drops EXIF (the GPS position of the
buyer's home is often in there) and anything smuggled after the image data; PDFs and
videos are stored as sent. The stored bytes' SHA-256 is kept to spot duplicates.
"""

from __future__ import annotations

import hashlib
import io
import os
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F
from PIL import Image, ImageOps, UnidentifiedImageError

from shouhou.core import clock
from shouhou.core.errors import ShouhouError

from . import lifecycle as lc
from .actors import Actor
from .models import Case, Evidence, TimelineEvent, Visibility
from .policies import current_policy

IMAGE_TYPES = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
MAX_PIXELS = 40_000_000  # a 40-megapixel photo is plenty; more is a decompression bomb
# Image metadata worth keeping through re-encoding: colour and animation, nothing personal.
KEEP_INFO = {"icc_profile", "transparency", "duration", "loop", "background"}


@dataclass(frozen=True)
class CleanFile:
    data: bytes
    content_type: str
    extension: str


def add_evidence(
    case_id: int, actor: Actor, uploaded_file: UploadedFile, note: str = ""
) -> Evidence:
    """Attach a file to a case: one transaction, a timeline event, the case version bumped."""
    if actor.role == lc.ActorRole.SYSTEM:
        raise ShouhouError("permission_denied", role=actor.role.value)
    note = (note or "").strip()
    if len(note) > 500 or "\x00" in note:
        raise ShouhouError("validation_error", detail="note: 最多 500 字 / at most 500 characters")
    limit = settings.SHOUHOU_MAX_EVIDENCE_BYTES
    if uploaded_file.size is not None and uploaded_file.size > limit:
        raise ShouhouError("payload_too_large", limit=limit)
    data = uploaded_file.read(limit + 1)
    if len(data) > limit:
        raise ShouhouError("payload_too_large", limit=limit)
    clean = inspect_file(data)
    digest = hashlib.sha256(clean.data).hexdigest()
    original_name = _display_name(uploaded_file.name or "", clean.extension)

    with transaction.atomic():
        case = _locked_case(actor, case_id)
        status = lc.Status(case.status)
        if status in lc.TERMINAL:
            raise ShouhouError(
                "action_not_allowed",
                status=status.value,
                status_label=lc.STATUS_LABELS[status],
                action="evidence",
                action_label="上传凭证",
            )
        policy = current_policy(case.shop)
        if Evidence.objects.filter(case=case).count() >= policy.max_evidence_files:
            raise ShouhouError("too_many_evidence", limit=policy.max_evidence_files)
        now = clock.now()
        evidence = Evidence(
            shop_id=case.shop_id,
            case=case,
            uploaded_by=actor.role.value,
            original_name=original_name,
            content_type=clean.content_type,
            size=len(clean.data),
            sha256=digest,
            note=note,
            created_at=now,
        )
        evidence.file.save(f"{digest[:8]}.{clean.extension}", ContentFile(clean.data), save=False)
        try:
            evidence.save()
            # Holding the row lock: new evidence is news the next decision must have seen.
            Case.objects.filter(pk=case.pk).update(version=F("version") + 1, updated_at=now)
            TimelineEvent.objects.create(
                shop_id=case.shop_id,
                case=case,
                at=now,
                actor_role=actor.role.value,
                actor_label=actor.display,
                staff_id=actor.staff_id,
                action="evidence",
                from_status=case.status,
                to_status=case.status,
                visibility=Visibility.PUBLIC,
                message=note or original_name,
                data={
                    "evidence_id": evidence.id,
                    "content_type": clean.content_type,
                    "sha256": digest,
                },
            )
        except BaseException:
            evidence.file.storage.delete(evidence.file.name)
            raise
    return evidence


def _locked_case(actor: Actor, case_id: int) -> Case:
    qs = Case.objects.select_related("shop")
    if connection.features.has_select_for_update:
        qs = qs.select_for_update(of=("self",))
    case = qs.filter(pk=case_id, shop_id=actor.shop_id).first()
    if case is None or (actor.role == lc.ActorRole.BUYER and case.customer_id != actor.customer_id):
        raise ShouhouError("not_found", what="售后单")
    return case


def inspect_file(data: bytes) -> CleanFile:
    """Decide the type from the bytes; re-encode images without their metadata."""
    if not data:
        raise ShouhouError("evidence_invalid", detail="文件为空 / the file is empty")
    if data.startswith(b"%PDF-"):
        return CleanFile(data, "application/pdf", "pdf")
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12].isascii():
        return CleanFile(data, "video/mp4", "mp4")
    return _clean_image(data)


def _clean_image(data: bytes) -> CleanFile:
    unsupported = ShouhouError(
        "evidence_invalid",
        detail="只支持 JPEG/PNG/WebP/GIF 图片、PDF 和 MP4 视频 / "
        "only JPEG, PNG, WebP, GIF images, PDF and MP4",
    )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in IMAGE_TYPES:
                raise unsupported
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise ShouhouError(
                    "evidence_invalid", detail=f"图片过大 / image above {MAX_PIXELS} pixels"
                )
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            out = _reencode(img, fmt)
    except ShouhouError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise unsupported from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError):
        raise ShouhouError("evidence_invalid", detail="图片已损坏 / the image is damaged") from None
    content_type, extension = IMAGE_TYPES[fmt]
    return CleanFile(out, content_type, extension)


def _reencode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    keep = {k: v for k, v in img.info.items() if k in KEEP_INFO}
    if fmt == "GIF":
        frames = getattr(img, "n_frames", 1)
        img.info = keep  # the GIF writer falls back to img.info (comments) otherwise
        img.save(buf, format="GIF", save_all=frames > 1, **keep)
        return buf.getvalue()
    # A phone photo's rotation lives in EXIF: apply it to the pixels before dropping EXIF.
    img = ImageOps.exif_transpose(img)
    img.info = keep
    if fmt == "JPEG":
        if img.mode not in {"RGB", "L", "CMYK"}:
            img = img.convert("RGB")
        img.save(buf, format="JPEG", quality=90, icc_profile=keep.get("icc_profile"))
    elif fmt == "PNG":
        img.save(buf, format="PNG", icc_profile=keep.get("icc_profile"))
    else:  # WEBP
        img.save(buf, format="WEBP", quality=90, icc_profile=keep.get("icc_profile"))
    return buf.getvalue()


_SAME_TYPE = {"jpg": {"jpg", "jpeg", "jpe", "jfif"}, "mp4": {"mp4", "m4v", "mov"}}


def _display_name(name: str, extension: str) -> str:
    """The name the uploader gave, for people to read; never used as a path."""
    base = os.path.basename(name.replace("\\", "/"))
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    # The extension follows the content, so a download opens in the right program:
    # "invoice.jpg" that is really a PDF is shown and saved as "invoice.pdf".
    stem, dot, ext = base.rpartition(".")
    if dot and stem:
        if ext.lower() not in _SAME_TYPE.get(extension, {extension}):
            base = f"{stem}.{extension}"
    elif base:
        base = f"{base}.{extension}"
    base = base or f"evidence.{extension}"
    if len(base) > 200:
        base = base[: 199 - len(extension)] + "." + extension
    return base
