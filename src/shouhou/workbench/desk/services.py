"""Writes the desk owns: saved queue views, and the one inspection step that also files
a photo."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from shouhou.cases import evidence, services
from shouhou.cases.actors import Actor
from shouhou.cases.models import Case
from shouhou.core.errors import ShouhouError
from shouhou.workbench.models import SavedView

MAX_VIEWS_PER_MEMBER = 30


def save_view(actor: Actor, *, name: str, query: str, shared: bool = False) -> SavedView:
    """Save the current queue filters under a name (the same name again replaces them)."""
    name = (name or "").strip()
    if not name or len(name) > 40:
        raise ShouhouError(
            "validation_error", detail="视图名称 1–40 字 / a name of 1–40 characters"
        )
    if len(query) > 1000:
        raise ShouhouError("validation_error", detail="筛选条件过长 / the filters are too long")
    with transaction.atomic():
        mine = SavedView.objects.filter(shop_id=actor.shop_id, owner_id=actor.staff_id)
        existing = mine.filter(name=name).first()
        if existing is None and mine.count() >= MAX_VIEWS_PER_MEMBER:
            raise ShouhouError(
                "validation_error",
                detail=f"最多保存 {MAX_VIEWS_PER_MEMBER} 个视图 / at most {MAX_VIEWS_PER_MEMBER} views",
            )
        if existing is not None:
            existing.query, existing.shared = query, shared
            existing.save(update_fields=["query", "shared"])
            return existing
        try:
            return SavedView.objects.create(
                shop_id=actor.shop_id,
                owner_id=actor.staff_id,
                name=name,
                query=query,
                shared=shared,
            )
        except IntegrityError:  # the same name saved twice at once
            raise ShouhouError("validation_error", detail="视图名称已存在 / name taken") from None


def delete_view(actor: Actor, view_id: int) -> None:
    """Only the owner deletes a view; anyone else's (or another shop's) is not found."""
    deleted, _ = SavedView.objects.filter(
        pk=view_id, shop_id=actor.shop_id, owner_id=actor.staff_id
    ).delete()
    if not deleted:
        raise ShouhouError("not_found", what="视图")


def fail_inspection(
    case_id: int,
    actor: Actor,
    *,
    reason: str,
    photo: UploadedFile | None = None,
    expected_version: int | None = None,
) -> Case:
    """Inspection failed, with the photo that shows it: both or neither."""
    with transaction.atomic():
        case = services.fail_inspection(
            case_id, actor, reason=reason, expected_version=expected_version
        )
        if photo is not None:
            evidence.add_evidence(case_id, actor, photo, note=reason[:500])
    return case
