"""The deadline sweep: apply every due deadline action, in batches.

Each batch is one transaction. On PostgreSQL the batch's rows are locked with
`FOR UPDATE SKIP LOCKED`, so any number of workers sweep side by side without touching
the same case; on SQLite the write lock (BEGIN IMMEDIATE) serialises them. A worker
killed mid-batch loses nothing: its transaction rolls back and the cases are still due
for the next sweep.

The sweep is *batched*: for the locked cases it plans every step with the pure
`lifecycle.plan`, then writes the whole batch with a handful of set-based statements
(cases guarded by version, timeline events, case lines, return shipments, order-line
refund increments guarded against exceeding what was paid, one refund instruction per
case). It produces exactly what the per-case services would (tests/cases/
test_sweep_batch.py checks that), at a fraction of the queries: the per-case path costs
about ten queries per case, the batch about fifteen per batch.

Cases the batch cannot take on its own go through the per-case services, one savepoint
each, as before: shops with automation rules on `status_changed` (rules must see each
step), and anything the plan or the refund guard would refuse (those get parked with a
note, exactly as the services would leave them).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import OperationalError, connection, transaction

from shouhou.core import clock
from shouhou.core.errors import ShouhouError
from shouhou.core.models import RefundGateway, Shop
from shouhou.notify import events as notify_events
from shouhou.orders.models import Order, OrderLine, OrderStatus, Shipment, ShipmentDirection

from . import lifecycle as lc
from . import services
from .actors import Actor
from .models import (
    Case,
    CaseLine,
    Priority,
    RefundInstruction,
    RefundStatus,
    ReturnAddress,
    ShopPolicy,
    TimelineEvent,
    Visibility,
)

log = logging.getLogger(__name__)

A = lc.Action
S = lc.Status
SHIPPED = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED})
DEADLINE_LABEL = "系统（超时）"
GATEWAY_LABEL = "退款通道"  # as services._issue_refund names the instant gateway
DEADLOCK_RETRIES = 3


@dataclass
class SweepResult:
    applied: int = 0
    failed: int = 0
    batches: int = 0
    by_action: dict[str, int] = field(default_factory=dict)
    # Cases the batch handed to the per-case services (rules, refusals).
    per_case: int = 0

    def count(self, action: str) -> None:
        self.applied += 1
        self.by_action[action] = self.by_action.get(action, 0) + 1


DEADLINE_SERVICES = {
    A.PASS_REVIEW: services.pass_review,
    A.AGREE: services.agree,
    A.CLOSE_OVERDUE: services.close_overdue,
    A.CONFIRM_RECEIPT: services.confirm_receipt,
    A.ALERT: services.alert,
    A.CONFIRM_DELIVERY: services.confirm_delivery,
    A.EXPIRE_PROPOSAL: services.expire_proposal,
}


def _due(now: datetime, *, no_key: bool = False):
    qs = Case.objects.filter(deadline_at__lte=now).order_by("deadline_at", "id")
    if connection.features.has_select_for_update_skip_locked:
        # NO KEY: the sweep never changes a case's id, so inserts that merely reference a
        # locked case (a timeline event, an upload) need not wait for the batch.
        qs = qs.select_for_update(skip_locked=True, no_key=no_key)
    return qs


def due_ids(now: datetime, limit: int) -> list[int]:
    """Lock (PostgreSQL) and return up to `limit` due case ids, most overdue first."""
    return list(_due(now).values_list("id", flat=True)[:limit])


# --- the per-case path (the reference, and the fallback) ----------------------------------
def apply_due(case_id: int, now: datetime) -> str | None:
    """Apply one case's deadline action as the system; return the action applied."""
    row = (
        Case.objects.filter(pk=case_id).values("shop_id", "deadline_at", "deadline_action").first()
    )
    if row is None or row["deadline_at"] is None or row["deadline_at"] > now:
        return None  # someone acted on it since it was picked
    action = lc.Action(row["deadline_action"])
    actor = Actor.system(row["shop_id"], label=DEADLINE_LABEL, by_deadline=True)
    DEADLINE_SERVICES[action](case_id, actor)
    return action.value


def _apply_one(case_id: int, at: datetime, result: SweepResult) -> None:
    try:
        with transaction.atomic():
            done = apply_due(case_id, at)
    except ShouhouError as exc:
        # Leave a mark and move the deadline off the hot path, so a case that cannot
        # move (e.g. no return address) does not block every sweep.
        result.failed += 1
        _park(case_id, at, exc)
        return
    if done:
        result.count(done)


def sweep_per_case(
    *, batch_size: int | None = None, max_batches: int | None = None, now: datetime | None = None
) -> SweepResult:
    """The sweep through the per-case services only: the reference the batched sweep is
    tested and benchmarked against."""
    from django.conf import settings

    batch_size = batch_size or settings.SHOUHOU_SWEEP_BATCH
    result = SweepResult()
    while max_batches is None or result.batches < max_batches:
        at = now or clock.now()
        with transaction.atomic():
            ids = due_ids(at, batch_size)
            if not ids:
                break
            result.batches += 1
            for case_id in ids:
                _apply_one(case_id, at, result)
    return result


def _park(case_id: int, now: datetime, exc: ShouhouError) -> None:
    log.warning("deadline action on case %s refused: %s", case_id, exc.code)
    case = Case.objects.get(pk=case_id)
    if "deadline_failed" not in case.flags:
        case.flags = [*case.flags, "deadline_failed"]
    Case.objects.filter(pk=case_id).update(
        flags=case.flags, deadline_at=now + timedelta(hours=1), version=case.version + 1
    )
    services.add_rule_note(
        case_id, Actor.system(case.shop_id), f"超时自动处理失败：{exc.message()}"
    )


# --- the batched sweep --------------------------------------------------------------------
def sweep(
    *, batch_size: int | None = None, max_batches: int | None = None, now: datetime | None = None
) -> SweepResult:
    from django.conf import settings

    batch_size = batch_size or settings.SHOUHOU_SWEEP_BATCH
    result = SweepResult()
    while max_batches is None or result.batches < max_batches:
        at = now or clock.now()
        for attempt in range(DEADLOCK_RETRIES + 1):
            partial = SweepResult()
            try:
                with transaction.atomic():
                    found = _sweep_batch(at, batch_size, partial)
                break
            except OperationalError as exc:
                # Two sweepers refunding the same order line from different cases (or a
                # sweeper and a per-case refund) can deadlock on order-line locks; the
                # loser's batch rolled back whole, so running it again is safe.
                if not _is_deadlock(exc) or attempt == DEADLOCK_RETRIES:
                    raise
                log.warning("deadline sweep batch deadlocked, retrying (%s)", attempt + 1)
                time.sleep(0.05 * (attempt + 1))
        if not found:
            break
        result.batches += 1
        result.applied += partial.applied
        result.failed += partial.failed
        result.per_case += partial.per_case
        for action, n in partial.by_action.items():
            result.by_action[action] = result.by_action.get(action, 0) + n
    return result


def _is_deadlock(exc: OperationalError) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "40P01"


CASE_COLUMNS = (
    "id",
    "shop_id",
    "number",
    "order_id",
    "status",
    "path",
    "deadline_at",
    "deadline_action",
    "version",
    "flags",
    "priority",
    "proposal_kind",
    "proposal_refund_fen",
    "refund_fen",
    "return_address_id",
    "awaiting_finance",
    "auto_agreed_by_timeout",
    "is_open",
    "closed_at",
    "updated_at",
)


@dataclass
class _Work:
    """One case's planned writes: its new row, its timeline, its refund."""

    row: dict
    old_version: int
    action: lc.Action
    events: list[tuple] = field(default_factory=list)
    closes: bool = False
    receipt: bool = False  # confirm_receipt marks the return parcel delivered
    refund_step: lc.Step | None = None
    allocation: dict[str, int] | None = None
    reference: str = ""


class _Refuse(Exception):
    """The batch will not take this case; the per-case services will (and park it)."""


def _sweep_batch(at: datetime, batch_size: int, result: SweepResult) -> bool:
    """One batch, inside the caller's transaction. Returns False when nothing is due."""
    rows = list(_due(at, no_key=True).values(*CASE_COLUMNS)[:batch_size])
    if not rows:
        return False
    stamp = clock.now()  # what the services would stamp: the app clock, not the due-cut
    steps = {r["id"]: _step(r) for r in rows}
    ctx = _Context.load({r["shop_id"] for r in rows})
    # Whether the order shipped only matters for a few next deadlines (an unshipped
    # refund waits 24 h, not 72): read those orders only.
    orders = [
        r["order_id"]
        for r in rows
        if (step := steps[r["id"]]) is not None
        and lc.deadline_key(step.to_status, path=r["path"], order_shipped=True)
        != lc.deadline_key(step.to_status, path=r["path"], order_shipped=False)
    ]
    if orders:
        ctx.shipped = {
            order_id: status in SHIPPED
            for order_id, status in Order.objects.filter(id__in=orders).values_list("id", "status")
        }

    works: list[_Work] = []
    fallback: list[int] = []
    for row in rows:
        try:
            works.append(_plan_case(row, steps[row["id"]], ctx, stamp))
        except _Refuse:
            fallback.append(row["id"])

    refunding = [w for w in works if w.refund_step is not None]
    if refunding:
        refused = _plan_refunds(refunding, ctx, stamp)
        if refused:
            works = [w for w in works if w.row["id"] not in refused]
            fallback.extend(r["id"] for r in rows if r["id"] in refused)

    _write(works, stamp)
    for w in works:
        result.count(w.action.value)

    # Cases in due order, as the per-case sweep would take them.
    order = {r["id"]: i for i, r in enumerate(rows)}
    for case_id in sorted(fallback, key=order.__getitem__):
        result.per_case += 1
        _apply_one(case_id, at, result)
    return True


@dataclass
class _Context:
    gateway: dict[int, str]
    deadline_hours: dict[int, dict]
    rule_shops: set[int]
    return_address: dict[int, int]
    shipped: dict[int, bool] = field(default_factory=dict)  # order id → shipped

    @classmethod
    def load(cls, shop_ids: set[int]) -> _Context:
        from shouhou.rules.models import AutomationRule

        gateway = dict(Shop.objects.filter(id__in=shop_ids).values_list("id", "refund_gateway"))
        hours = dict(
            ShopPolicy.objects.filter(shop_id__in=shop_ids, is_current=True).values_list(
                "shop_id", "deadline_hours"
            )
        )
        rule_shops = set(
            AutomationRule.objects.filter(
                shop_id__in=shop_ids, enabled=True, event="status_changed"
            ).values_list("shop_id", flat=True)
        )
        # services._return_address: the default address, else the oldest.
        address: dict[int, int] = {}
        for shop_id, address_id in (
            ReturnAddress.objects.filter(shop_id__in=shop_ids)
            .order_by("shop_id", "-is_default", "id")
            .values_list("shop_id", "id")
        ):
            address.setdefault(shop_id, address_id)
        return cls(gateway, hours, rule_shops, address)


# Timeline rows are written as tuples in this column order (no model instances: building
# and preparing a Django object per event cost more than writing it).
EVENT_COLUMNS = (
    "shop_id",
    "case_id",
    "at",
    "actor_role",
    "actor_label",
    "staff_id",
    "action",
    "from_status",
    "to_status",
    "rule_id",
    "by_deadline",
    "visibility",
    "message",
    "data",
)


def _event(
    row: dict,
    actor: Actor,
    action: str,
    from_status: str,
    to_status: str,
    at: datetime,
    *,
    message: str = "",
    data: dict | None = None,
) -> tuple:
    """services._event's row."""
    return (
        row["shop_id"],
        row["id"],
        at,
        actor.role.value,
        actor.display,
        actor.staff_id,
        action,
        from_status,
        to_status,
        actor.rule_id,
        actor.by_deadline,
        Visibility.PUBLIC.value,
        message,
        json.dumps(data, ensure_ascii=False) if data else "{}",
    )


def _apply_step(
    work: _Work,
    actor: Actor,
    step: lc.Step,
    ctx: _Context,
    now: datetime,
    *,
    message: str = "",
    data: dict | None = None,
) -> None:
    """services._apply, on the row in memory (the refund comes later, in bulk)."""
    row = work.row
    row["status"] = step.to_status.value
    row["updated_at"] = now
    if step.changes_status:
        rule = None
        if step.to_status not in lc.TERMINAL:
            rule = lc.deadline_for(
                step.to_status,
                path=row["path"],
                order_shipped=ctx.shipped.get(row["order_id"], True),
                overrides=ctx.deadline_hours.get(row["shop_id"]) or {},
            )
        row["deadline_at"], row["deadline_action"] = (
            (now + rule[0], rule[1].value) if rule else (None, "")
        )
    elif step.action == A.ALERT:
        row["deadline_at"], row["deadline_action"] = None, ""
    if step.closes:
        row["is_open"] = False
        row["closed_at"] = now
        row["deadline_at"], row["deadline_action"] = None, ""
        work.closes = True
    if actor.by_deadline and step.action == A.AGREE:
        row["auto_agreed_by_timeout"] = True
    row["version"] += 1
    work.events.append(
        _event(
            row,
            actor,
            step.action.value,
            str(step.from_status or ""),
            step.to_status.value,
            now,
            message=message,
            data=data,
        )
    )
    if step.issues_refund:
        work.refund_step = step


def _add_flag(row: dict, flag: str) -> None:
    if flag not in row["flags"]:
        row["flags"] = [*row["flags"], flag]


def _step(row: dict) -> lc.Step | None:
    """The deadline action's step for this case as the system, or None if the batch
    cannot take it (the per-case services will, and refuse it the same way)."""
    try:
        action = lc.Action(row["deadline_action"])
        if action not in DEADLINE_SERVICES:
            return None
        return lc.plan(lc.Status(row["status"]), action, lc.ActorRole.SYSTEM, path=row["path"])
    except (lc.NotAllowed, ValueError):
        return None


def _plan_case(row: dict, step: lc.Step | None, ctx: _Context, now: datetime) -> _Work:
    """Mirror of the deadline services (agree, alert, …) for one locked case row."""
    if step is None:
        raise _Refuse
    action = step.action
    if row["shop_id"] in ctx.rule_shops and action != A.ALERT:
        raise _Refuse  # rules on status_changed see every step through the services
    row = dict(row, flags=list(row["flags"] or []))
    work = _Work(row=row, old_version=row["version"], action=action)
    actor = Actor.system(row["shop_id"], label=DEADLINE_LABEL, by_deadline=True)
    message, data = "", None
    if action == A.AGREE:
        if step.to_status == S.AWAITING_BUYER_RETURN:
            address = ctx.return_address.get(row["shop_id"])
            if address is None:
                raise _Refuse  # no_return_address: the service parks it
            row["return_address_id"] = address
        row["awaiting_finance"] = False
        data = {"refund_fen": row["refund_fen"]}
        if row["return_address_id"]:
            data["return_address_id"] = row["return_address_id"]
    elif action == A.ALERT:
        _add_flag(row, "overdue")
        if row["status"] == S.AWAITING_MERCHANT_SHIPMENT:
            row["priority"] = Priority.URGENT
            _add_flag(row, "escalated")
        message = "超时提醒"
    elif action == A.EXPIRE_PROPOSAL:
        row["proposal_kind"], row["proposal_refund_fen"] = "", 0
        _add_flag(row, "proposal_expired")
    elif action == A.CONFIRM_RECEIPT:
        work.receipt = True
    _apply_step(work, actor, step, ctx, now, message=message, data=data)
    if work.refund_step is not None and row["refund_fen"] <= 0:
        raise _Refuse  # the service refuses a zero refund
    return work


def _plan_refunds(works: list[_Work], ctx: _Context, now: datetime) -> set[int]:
    """Allocate each refund over its case lines against order lines locked for the rest
    of the batch, in due order, as the services would one after the other. Returns the
    cases the services would refuse (already refunded, or more than is left to refund)."""
    ids = [w.row["id"] for w in works]
    refused = set(
        RefundInstruction.objects.filter(case_id__in=ids).values_list("case_id", flat=True)
    )
    lines: dict[int, list[tuple[int, int]]] = {}
    for case_id, order_line_id, refund_fen in (
        CaseLine.objects.filter(case_id__in=ids)
        .order_by("case_id", "order_line_id")
        .values_list("case_id", "order_line_id", "refund_fen")
    ):
        lines.setdefault(case_id, []).append((order_line_id, refund_fen))
    line_ids = sorted({ol for case_lines in lines.values() for ol, _ in case_lines})
    # Locked in id order, so two sweepers never wait on each other in a circle here.
    qs = OrderLine.objects.filter(id__in=line_ids).order_by("id")
    if connection.features.has_select_for_update:
        qs = qs.select_for_update()
    shop_of: dict[int, int] = {}
    room: dict[int, int] = {}
    for line_id, shop_id, paid, refunded in qs.values_list(
        "id", "shop_id", "paid_fen", "refunded_fen"
    ):
        shop_of[line_id], room[line_id] = shop_id, paid - refunded
    for w in works:
        case_id = w.row["id"]
        if case_id in refused:
            continue
        case_lines = lines.get(case_id, [])
        allocation = _allocate(w.row["refund_fen"], case_lines, room)
        if allocation is None or any(shop_of[ol] != w.row["shop_id"] for ol, _ in case_lines):
            refused.add(case_id)
            continue
        for line, take in allocation.items():
            room[int(line)] -= take
        w.allocation = allocation
        w.reference = f"RF{uuid.uuid4().hex[:20].upper()}"
        _after_refund(w, ctx, now)
    return refused


def _allocate(
    amount: int, case_lines: list[tuple[int, int]], room: dict[int, int]
) -> dict[str, int] | None:
    """services._allocate's split, on rows already read: first what each line asked for,
    then the rest within what each line can still refund (None: it does not fit)."""
    allocation: dict[str, int] = {}
    remaining = amount
    for first_pass in (True, False):
        for order_line_id, refund_fen in case_lines:
            key = str(order_line_id)
            cap = room[order_line_id] - allocation.get(key, 0)
            if first_pass:
                cap = min(cap, refund_fen)
            take = min(remaining, cap)
            if take > 0:
                allocation[key] = allocation.get(key, 0) + take
                remaining -= take
    return None if remaining > 0 else allocation


def _after_refund(w: _Work, ctx: _Context, now: datetime) -> None:
    row = w.row
    amount = row["refund_fen"]
    actor = Actor.system(row["shop_id"], label=DEADLINE_LABEL, by_deadline=True)
    w.events.append(
        _event(
            row,
            actor,
            "refund_issued",
            row["status"],
            row["status"],
            now,
            message=f"退款指令 {w.reference}：{amount / 100:.2f} 元",
            data={"reference": w.reference, "amount_fen": amount},
        )
    )
    if ctx.gateway.get(row["shop_id"]) == RefundGateway.INSTANT:
        gateway = Actor.system(row["shop_id"], label=GATEWAY_LABEL)
        step = lc.plan(lc.Status(row["status"]), A.CONFIRM_REFUND, gateway.role, path=row["path"])
        _apply_step(w, gateway, step, ctx, now)


# --- writing the batch --------------------------------------------------------------------
def _write(works: list[_Work], now: datetime) -> None:
    if not works:
        return
    _update_cases(works)
    _insert(TimelineEvent, EVENT_COLUMNS, [e for w in works for e in w.events])
    closing = [w.row["id"] for w in works if w.closes]
    if closing:
        CaseLine.objects.filter(case_id__in=closing).update(is_open=False)
    received = [w.row["id"] for w in works if w.receipt]
    if received:
        Shipment.objects.filter(
            case_id__in=received, direction=ShipmentDirection.RETURN, delivered_at__isnull=True
        ).update(delivered_at=now)
    notify_events.swept(works)  # case.status_changed / refund.issued, in the batch's transaction
    refunds = [w for w in works if w.allocation is not None]
    if refunds:
        _increment_refunded(refunds)
        _insert(
            RefundInstruction,
            REFUND_COLUMNS,
            [
                (
                    w.row["shop_id"],
                    w.row["id"],
                    w.reference,
                    w.row["refund_fen"],
                    (RefundStatus.CONFIRMED if w.closes else RefundStatus.ISSUED).value,
                    now,
                    now if w.closes else None,
                    json.dumps(w.allocation),
                )
                for w in refunds
            ],
        )


REFUND_COLUMNS = (
    "shop_id",
    "case_id",
    "reference",
    "amount_fen",
    "status",
    "issued_at",
    "confirmed_at",
    "allocation",
)


def _pg_cursor():
    """A cursor with server-side parameters on the batch's own connection: psycopg sends
    the arrays in binary, where Django's client-side cursor would quote every element
    into the SQL text. Still a Django CursorWrapper, so execute wrappers see it."""
    import psycopg
    from django.db.backends.utils import CursorWrapper

    connection.ensure_connection()
    return CursorWrapper(psycopg.Cursor(connection.connection), connection)


def _sqlite_row(row: tuple) -> tuple:
    adapt = connection.ops.adapt_datetimefield_value
    return tuple(adapt(v) if isinstance(v, datetime) else v for v in row)


def _insert(model, names: tuple[str, ...], rows: list[tuple]) -> None:
    """Append rows (never updated afterwards): COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    q = connection.ops.quote_name
    columns = {f.attname: f.column for f in model._meta.concrete_fields}
    table = q(model._meta.db_table)
    cols = ", ".join(q(columns[n]) for n in names)
    if connection.vendor == "postgresql":
        with _pg_cursor() as cur:
            with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    marks = ", ".join(["%s"] * len(names))
    with connection.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {table} ({cols}) VALUES ({marks})", [_sqlite_row(r) for r in rows]
        )


UPDATED = (
    "status",
    "updated_at",
    "deadline_at",
    "deadline_action",
    "is_open",
    "closed_at",
    "auto_agreed_by_timeout",
    "awaiting_finance",
    "return_address_id",
    "flags",
    "priority",
    "proposal_kind",
    "proposal_refund_fen",
)
PG_TYPES = {
    "status": "text",
    "updated_at": "timestamptz",
    "deadline_at": "timestamptz",
    "deadline_action": "text",
    "is_open": "boolean",
    "closed_at": "timestamptz",
    "auto_agreed_by_timeout": "boolean",
    "awaiting_finance": "boolean",
    "return_address_id": "bigint",
    "flags": "jsonb",
    "priority": "integer",
    "proposal_kind": "text",
    "proposal_refund_fen": "bigint",
}


def _update_cases(works: list[_Work]) -> None:
    """One guarded UPDATE for the batch: a row whose version moved is not overwritten,
    and then the whole batch rolls back (the locks make that impossible in practice)."""
    q = connection.ops.quote_name
    table = q(Case._meta.db_table)
    columns = {f.attname: f.column for f in Case._meta.concrete_fields}
    values = [
        [w.row[n] if n != "flags" else json.dumps(w.row[n], ensure_ascii=False) for n in UPDATED]
        for w in works
    ]
    if connection.vendor == "postgresql":
        names = ["id", "old_version", "new_version", *UPDATED]
        types = ["bigint", "integer", "integer", *(PG_TYPES[n] for n in UPDATED)]
        # jsonb travels as text and is cast per row.
        args = ", ".join("%s::text[]" if t == "jsonb" else f"%s::{t}[]" for t in types)
        sets = ", ".join(
            f"{q(columns[n])} = v.{n}" + ("::jsonb" if PG_TYPES[n] == "jsonb" else "")
            for n in UPDATED
        )
        sql = (
            f"UPDATE {table} AS c SET {sets}, {q('version')} = v.new_version "
            f"FROM unnest({args}) AS v({', '.join(names)}) "
            f"WHERE c.id = v.id AND c.{q('version')} = v.old_version"
        )
        arrays = [
            [w.row["id"] for w in works],
            [w.old_version for w in works],
            [w.row["version"] for w in works],
            *(list(col) for col in zip(*values, strict=True)),
        ]
        with _pg_cursor() as cur:
            cur.execute(sql, arrays)
            updated = cur.rowcount
    else:
        sets = ", ".join(f"{q(columns[n])} = %s" for n in UPDATED)
        sql = (
            f"UPDATE {table} SET {sets}, {q('version')} = %s WHERE id = %s AND {q('version')} = %s"
        )
        params = [
            _sqlite_row((*vals, w.row["version"], w.row["id"], w.old_version))
            for w, vals in zip(works, values, strict=True)
        ]
        with connection.cursor() as cur:
            cur.executemany(sql, params)
            updated = cur.rowcount
    if updated != len(works):
        # The batch holds the rows' locks (or SQLite's write lock), so this means a bug:
        # refuse the whole batch rather than overwrite someone else's write.
        raise RuntimeError(f"deadline sweep: {len(works) - updated} case(s) changed under lock")


def _increment_refunded(works: list[_Work]) -> None:
    takes: dict[int, int] = {}
    shop_of: dict[int, int] = {}
    for w in works:
        for line, take in w.allocation.items():
            takes[int(line)] = takes.get(int(line), 0) + take
            shop_of[int(line)] = w.row["shop_id"]
    table = connection.ops.quote_name(OrderLine._meta.db_table)
    ids = sorted(takes)
    # The same guard as services._issue_refund: never above what was paid, whatever else
    # happened (the CHECK constraint backs it up).
    if connection.vendor == "postgresql":
        sql = (
            f"UPDATE {table} AS ol SET refunded_fen = ol.refunded_fen + v.take "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS v(id, shop_id, take) "
            "WHERE ol.id = v.id AND ol.shop_id = v.shop_id "
            "AND ol.refunded_fen + v.take <= ol.paid_fen"
        )
        with _pg_cursor() as cur:
            cur.execute(sql, [ids, [shop_of[i] for i in ids], [takes[i] for i in ids]])
            updated = cur.rowcount
    else:
        sql = (
            f"UPDATE {table} SET refunded_fen = refunded_fen + %s "
            "WHERE id = %s AND shop_id = %s AND refunded_fen + %s <= paid_fen"
        )
        with connection.cursor() as cur:
            cur.executemany(sql, [[takes[i], i, shop_of[i], takes[i]] for i in ids])
            updated = cur.rowcount
    if updated != len(ids):
        # Checked against the locked lines just before, so this means a bug: the whole
        # batch rolls back rather than refund more than was paid.
        raise RuntimeError(f"deadline sweep: {len(ids) - updated} refund increment(s) refused")
