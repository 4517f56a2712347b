"""Writes to a shop's team and API keys, and the audit log every privileged change lands in.

Each function takes the acting admin explicitly (an `Actor` of the shop) and writes its
audit row in the same transaction as the change, so a change without its audit row (or an
audit row for a change that rolled back) cannot happen.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from shouhou.cases.actors import Actor
from shouhou.cases.lifecycle import ActorRole

from . import clock
from .errors import ShouhouError
from .models import ApiKey, AuditLog, Role, Shop, StaffMember

USERNAME_RE = re.compile(r"^[\w.@+-]{3,150}$")
MIN_PASSWORD = 8


# --- the audit log ------------------------------------------------------------------------
def audit(
    shop: Shop, actor: Actor, action: str, target: str = "", data: dict[str, Any] | None = None
) -> AuditLog:
    """One row per privileged change; call inside the change's transaction."""
    return AuditLog.objects.create(
        shop=shop,
        at=clock.now(),
        actor=(actor.display or "")[:120],
        action=action[:60],
        target=str(target)[:120],
        data=data or {},
    )


def require_admin(shop: Shop, actor: Actor) -> None:
    """Settings are the shop admin's, in the admin's own shop only."""
    if actor.shop_id != shop.id:
        raise ShouhouError("not_found", what="店铺")
    if actor.role != ActorRole.ADMIN:
        raise ShouhouError("permission_denied", role=actor.role.value)


def _invalid(zh: str, en: str) -> ShouhouError:
    return ShouhouError("validation_error", detail=f"{zh} / {en}")


# --- team ---------------------------------------------------------------------------------
def _member(shop: Shop, member_id: int, *, lock: bool = False) -> StaffMember:
    qs = StaffMember.objects.select_related("user").filter(shop=shop, pk=member_id)
    if lock:
        qs = qs.select_for_update()
    member = qs.first()
    if member is None:
        raise ShouhouError("not_found", what="员工")
    return member


def _role(value: str) -> Role:
    """A role a shop admin may give. Arbiters are the platform's people, never the shop's
    (a shop naming its own arbiter would rule on its own disputes)."""
    try:
        role = Role(value)
    except ValueError:
        raise _invalid(f"未知角色 {value!r}", f"unknown role {value!r}") from None
    if role == Role.ARBITER:
        raise _invalid("平台小二由平台指派，店铺不能设置", "arbiters are appointed by the platform")
    return role


def _not_platform(member: StaffMember) -> None:
    if member.role == Role.ARBITER:
        raise _invalid("平台小二由平台管理，店铺不能修改", "arbiters are managed by the platform")


def _other_active_admins(shop: Shop, member: StaffMember) -> int:
    # Locks the admin rows so two admins demoting each other at once cannot both win.
    return len(
        StaffMember.objects.select_for_update()
        .filter(shop=shop, role=Role.ADMIN, is_active=True)
        .exclude(pk=member.pk)
        .values_list("pk", flat=True)
    )


def add_staff(
    shop: Shop,
    actor: Actor,
    *,
    username: str,
    role: str,
    display_name: str = "",
    password: str = "",
) -> StaffMember:
    """Add a member: a new login (username + initial password) or an existing user."""
    require_admin(shop, actor)
    username = (username or "").strip()
    display_name = (display_name or "").strip()[:60]
    role = _role(role)
    if not USERNAME_RE.match(username):
        raise _invalid(
            "用户名须为 3–150 位字母、数字或 . @ + - _",
            "the username must be 3–150 letters, digits or . @ + - _",
        )
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        created = user is None
        if created:
            if len(password or "") < MIN_PASSWORD:
                raise _invalid(
                    f"新账号的初始密码至少 {MIN_PASSWORD} 位",
                    f"a new account's initial password needs at least {MIN_PASSWORD} characters",
                )
            user = User(username=username, first_name=display_name[:150])
            user.set_password(password)
            user.save()
        elif StaffMember.objects.filter(shop=shop, user=user).exists():
            raise ShouhouError("already_member", username=username)
        member = StaffMember.objects.create(
            shop=shop, user=user, role=role, display_name=display_name or username[:60]
        )
        audit(
            shop,
            actor,
            "staff.add",
            username,
            {"role": role.value, "new_user": created, "member_id": member.id},
        )
    return member


def change_role(shop: Shop, actor: Actor, member_id: int, role: str) -> StaffMember:
    require_admin(shop, actor)
    role = _role(role)
    with transaction.atomic():
        member = _member(shop, member_id, lock=True)
        if member.id == actor.staff_id:
            raise ShouhouError("cannot_change_self")
        _not_platform(member)
        if member.role == role:
            return member
        if (
            member.role == Role.ADMIN
            and member.is_active
            and not _other_active_admins(shop, member)
        ):
            raise ShouhouError("last_admin")
        old = member.role
        member.role = role
        member.save(update_fields=["role"])
        audit(
            shop,
            actor,
            "staff.role",
            member.user.get_username(),
            {"from": old, "to": role.value, "member_id": member.id},
        )
    return member


def set_staff_active(shop: Shop, actor: Actor, member_id: int, active: bool) -> StaffMember:
    """Deactivate (the member can no longer work in this shop) or reactivate."""
    require_admin(shop, actor)
    with transaction.atomic():
        member = _member(shop, member_id, lock=True)
        if member.id == actor.staff_id:
            raise ShouhouError("cannot_change_self")
        _not_platform(member)
        if member.is_active == active:
            return member
        if not active and member.role == Role.ADMIN and not _other_active_admins(shop, member):
            raise ShouhouError("last_admin")
        member.is_active = active
        member.save(update_fields=["is_active"])
        audit(
            shop,
            actor,
            "staff.activate" if active else "staff.deactivate",
            member.user.get_username(),
            {"member_id": member.id, "role": member.role},
        )
    return member


# --- API keys -----------------------------------------------------------------------------
def issue_api_key(shop: Shop, actor: Actor, name: str) -> tuple[ApiKey, str]:
    """A new key and its full secret: the caller shows it once; only its hash is kept."""
    require_admin(shop, actor)
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise _invalid("密钥名称必填，最多 80 字", "the key needs a name of at most 80 characters")
    with transaction.atomic():
        key, secret = ApiKey.issue(shop, name)
        audit(shop, actor, "api_key.issue", name, {"prefix": key.prefix, "key_id": key.id})
    return key, secret


def revoke_api_key(shop: Shop, actor: Actor, key_id: int) -> ApiKey:
    require_admin(shop, actor)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().filter(shop=shop, pk=key_id).first()
        if key is None:
            raise ShouhouError("not_found", what="API 密钥")
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            audit(shop, actor, "api_key.revoke", key.name, {"prefix": key.prefix, "key_id": key.id})
    return key
