"""`shouhou keys status | rotate [--resume] | retire <kid>`: the field-encryption key ring.

`rotate` adds a fresh random 32-byte key to the key file (SHOUHOU_FIELD_KEY_FILE, default
field-keys.json in SHOUHOU_DATA_DIR; written atomically, mode 0600; the key derived from
SHOUHOU_SECRET_KEY is kept in it as "s1" so older rows still decrypt), makes it current, and
re-encrypts every row of every model with an EncryptedTextField in batches. Each batch is
one transaction, and each row is written with an UPDATE guarded on the ciphertext it read,
so a value someone changed meanwhile is never overwritten (it was written under a key the
writer's ring held, and the next run picks it up if that was not the current one). The key
file says `"rotating": true` until every row is under the current key, so an interrupted
rotation is finished by `rotate --resume` or by running `rotate` again (no second new key).
`retire` removes a key from the file, and refuses while any row still uses it.
Both hold an exclusive flock on a sibling lock file (field-keys.json.lock) from reading the
key file to their last write, and a second `rotate`/`retire` meanwhile is refused: a retire
during a rotation would otherwise write back a file read before the new key was added.
The re-encryption writes ciphertext with raw SQL, not through the field; code that must
store ciphertext as-is through the ORM wraps it in `crypto.Ciphertext` (a plain string that
looks like ciphertext is encrypted like any other text).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shouhou.core import crypto

BATCH = 500


@dataclass(frozen=True)
class EncryptedColumns:
    model: type
    fields: tuple[str, ...]  # attribute names
    columns: tuple[str, ...]  # database column names

    @property
    def label(self) -> str:
        return self.model._meta.label


def encrypted_models() -> list[EncryptedColumns]:
    """Every concrete model with an EncryptedTextField, found through the app registry."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [
            f for f in model._meta.concrete_fields if isinstance(f, crypto.EncryptedTextField)
        ]
        if fields:
            found.append(
                EncryptedColumns(
                    model, tuple(f.attname for f in fields), tuple(f.column for f in fields)
                )
            )
    return sorted(found, key=lambda m: m.label)


# -- the key file -------------------------------------------------------------------------


def load_file(path: Path) -> dict:
    """The key file, or a fresh ring holding only the derived key when there is none."""
    if path.exists():
        return crypto.read_key_file(path)
    return {"current": "s1", "keys": {"s1": crypto.derived_key()}}


def write_file(path: Path, data: dict) -> None:
    """Write the ring atomically (temp file in the same directory, fsync, rename), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        **{k: v for k, v in data.items() if k not in {"keys"}},
        "keys": {kid: base64.b64encode(key).decode() for kid, key in data["keys"].items()},
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    crypto.key_ring.cache_clear()


@contextlib.contextmanager
def key_file_lock(path: Path) -> Iterator[None]:
    """Hold the exclusive lock on `path`'s sibling lock file, or refuse at once when
    another `shouhou keys rotate/retire` holds it (a rotation can run for a long time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommandError(
                "另一个密钥命令（轮换或停用）正在运行，请稍后再试 / another `shouhou keys "
                f"rotate` or `retire` is running (it holds {lock_path}); try again when it ends"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def new_key_id(existing: set[str]) -> str:
    # Letters and digits only: key ids go into LIKE patterns, where "_" and "%" are wildcards.
    while True:
        kid = "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(2)
        if kid not in existing:
            return kid


# -- what the rows hold -------------------------------------------------------------------


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def count_by_key(ec: EncryptedColumns, column: str, kids: list[str]) -> dict[str, int]:
    """Rows of one column per key id, plus "plain" (not encrypted) and "unknown" (a key id
    the ring does not hold)."""
    table = _q(ec.model._meta.db_table)
    col = _q(column)
    out: dict[str, int] = {}
    with connection.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {table} WHERE {col} IS NOT NULL AND {col} <> ''")  # noqa: S608
        total = cur.fetchone()[0]
        for kid in kids:
            cur.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {col} LIKE %s",  # noqa: S608
                [f"{crypto.PREFIX}:{kid}:%"],
            )
            out[kid] = cur.fetchone()[0]
        cur.execute(
            f"SELECT COUNT(*) FROM {table} WHERE {col} <> '' AND {col} NOT LIKE %s",  # noqa: S608
            [f"{crypto.PREFIX}:%"],
        )
        out["plain"] = cur.fetchone()[0]
    out["unknown"] = total - sum(out.values())
    return out


def _stale_where(columns: tuple[str, ...], current: str) -> tuple[str, list[str]]:
    """SQL for "some column holds a value not under the current key"."""
    parts, params = [], []
    for column in columns:
        col = _q(column)
        parts.append(f"({col} IS NOT NULL AND {col} <> '' AND {col} NOT LIKE %s)")
        params.append(f"{crypto.PREFIX}:{current}:%")
    return " OR ".join(parts), params


def stale_rows(ec: EncryptedColumns, current: str) -> int:
    where, params = _stale_where(ec.columns, current)
    with connection.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {_q(ec.model._meta.db_table)} WHERE {where}", params)  # noqa: S608
        return cur.fetchone()[0]


def reencrypt_batch(ec: EncryptedColumns, current: str, after_pk, size: int = BATCH):
    """Re-encrypt the next `size` stale rows after `after_pk` in one transaction.

    Returns (rows looked at, rows rewritten, rows skipped because they changed meanwhile,
    the last primary key seen) — the last pk is None when nothing was left.
    """
    meta = ec.model._meta
    pk_col = _q(meta.pk.column)
    where, params = _stale_where(ec.columns, current)
    cols = ", ".join(_q(c) for c in ec.columns)
    sql = f"SELECT {pk_col}, {cols} FROM {_q(meta.db_table)} WHERE ({where})"  # noqa: S608
    if after_pk is not None:
        sql += f" AND {pk_col} > %s"
        params = [*params, after_pk]
    sql += f" ORDER BY {pk_col} LIMIT {int(size)}"
    written = skipped = 0
    last = None
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        table = _q(meta.db_table)
        for pk, *values in rows:
            last = pk
            sets, set_params = [], []
            for column, value in zip(ec.columns, values, strict=True):
                if value and crypto.stored_key_id(value) != current:
                    sets.append(f"{_q(column)} = %s")
                    set_params.append(str(crypto.encrypt(crypto.decrypt(value))))
            if not sets:
                continue
            # Guarded on every encrypted column as read: a concurrent write wins, untouched.
            guards, guard_params = [f"{pk_col} = %s"], [pk]
            for column, value in zip(ec.columns, values, strict=True):
                if value is None:
                    guards.append(f"{_q(column)} IS NULL")
                else:
                    guards.append(f"{_q(column)} = %s")
                    guard_params.append(value)
            with connection.cursor() as cur:
                cur.execute(
                    f"UPDATE {table} SET {', '.join(sets)} WHERE {' AND '.join(guards)}",  # noqa: S608
                    [*set_params, *guard_params],
                )
                if cur.rowcount:
                    written += 1
                else:
                    skipped += 1
    return len(rows), written, skipped, last


def reencrypt_all(console: Console | None = None, *, batch: int = BATCH) -> dict[str, int]:
    """Bring every encrypted value under the current key; returns rows rewritten per model."""
    current, keys = crypto.key_ring(force=True)
    targets = [(ec, stale_rows(ec, current)) for ec in encrypted_models()]
    total = sum(n for _, n in targets)
    done: dict[str, int] = {}
    skipped_total = 0
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=console is None,
    )
    with progress:
        task = progress.add_task(f"重新加密 re-encrypting → {current}", total=total)
        for ec, _ in targets:
            after = None
            done[ec.label] = 0
            while True:
                seen, written, skipped, last = reencrypt_batch(ec, current, after, batch)
                if not seen:
                    break
                done[ec.label] += written
                skipped_total += skipped
                after = last
                progress.advance(task, seen)
    done["_skipped_changed_meanwhile"] = skipped_total
    return done


def remaining_stale() -> int:
    current = crypto.key_ring(force=True)[0]
    return sum(stale_rows(ec, current) for ec in encrypted_models())


def rotate(console: Console | None = None, *, resume: bool = False, batch: int = BATCH) -> dict:
    """Add and switch to a new key (unless resuming an unfinished rotation), re-encrypt all."""
    path = crypto.key_file_path()
    with key_file_lock(path):
        return _rotate(path, console, resume=resume, batch=batch)


def _rotate(path: Path, console: Console | None, *, resume: bool, batch: int) -> dict:
    data = load_file(path)  # read under the lock
    resumed = bool(resume or data.get("rotating"))
    if not resumed:
        kid = new_key_id(set(data["keys"]))
        data["keys"][kid] = secrets.token_bytes(32)
        data["previous"] = data["current"]
        data["current"] = kid
        data["rotating"] = True
        data["rotated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        write_file(path, data)
    result = reencrypt_all(console, batch=batch)
    left = remaining_stale()
    if left == 0:
        data = load_file(path)
        data.pop("rotating", None)
        write_file(path, data)
    return {"current": data["current"], "resumed": resumed, "rewritten": result, "left": left}


def retire(kid: str) -> None:
    path = crypto.key_file_path()
    with key_file_lock(path):
        _retire(path, kid)


def _retire(path: Path, kid: str) -> None:
    if not path.exists():
        raise CommandError(f"没有密钥文件 / there is no key file at {path}")
    data = load_file(path)
    if kid not in data["keys"]:
        raise CommandError(f"密钥 {kid!r} 不在密钥文件中 / key {kid!r} is not in {path}")
    if kid == data["current"]:
        raise CommandError(f"不能停用当前密钥 / {kid!r} is the current key; rotate first")
    in_use = []
    for ec in encrypted_models():
        for column in ec.columns:
            n = count_by_key(ec, column, [kid])[kid]
            if n:
                in_use.append(f"{ec.label}.{column}: {n}")
    if in_use:
        raise CommandError(
            f"密钥 {kid!r} 仍有数据在用，请先完成轮换（shouhou keys rotate --resume）/ "
            f"key {kid!r} still encrypts rows: " + ", ".join(in_use)
        )
    del data["keys"][kid]
    if data.get("previous") == kid:
        data.pop("previous")
    write_file(path, data)


class Command(BaseCommand):
    help = "字段加密密钥：状态、轮换、停用 · field-encryption keys: status, rotate, retire"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="每个密钥加密的行数 · rows per key id per column")
        rot = sub.add_parser(
            "rotate", help="生成新密钥并重新加密全部数据 · new key, re-encrypt every row"
        )
        rot.add_argument(
            "--resume",
            action="store_true",
            help="继续未完成的轮换，不生成新密钥 · finish an interrupted rotation",
        )
        rot.add_argument("--batch", type=int, default=BATCH, help="每批行数 · rows per batch")
        ret = sub.add_parser("retire", help="删除不再使用的旧密钥 · remove an unused old key")
        ret.add_argument("kid", help="密钥 ID · key id")

    def handle(self, *args, action: str, **options):
        console = Console(file=self.stdout, highlight=False, soft_wrap=True)
        try:
            if action == "status":
                self._status(console)
            elif action == "rotate":
                if options["batch"] < 1:
                    raise CommandError("--batch must be at least 1")
                out = rotate(console, resume=options["resume"], batch=options["batch"])
                n = sum(v for k, v in out["rewritten"].items() if not k.startswith("_"))
                console.print(
                    f"当前密钥 current key: [bold]{out['current']}[/] · "
                    f"重新加密 rewritten {n} 行 rows"
                    + (" · 续跑 resumed" if out["resumed"] else "")
                )
                if out["left"]:
                    console.print(
                        f"[yellow]仍有 {out['left']} 行未完成（有并发写入），"
                        "请再运行 shouhou keys rotate --resume / rows left, run --resume[/]"
                    )
                else:
                    console.print("全部数据已使用当前密钥 · every row is under the current key")
            elif action == "retire":
                retire(options["kid"])
                console.print(f"已停用密钥 retired key {options['kid']}")
        except crypto.FieldKeyError as exc:
            raise CommandError(str(exc)) from exc

    def _status(self, console: Console) -> None:
        path = crypto.key_file_path()
        data = load_file(path)
        current = data["current"]
        kids = sorted(data["keys"])
        console.print(
            f"密钥文件 key file: {path}"
            + ("" if path.exists() else "（不存在，使用由 SECRET_KEY 派生的 s1 / absent: s1)")
        )
        console.print(f"当前密钥 current key: [bold]{current}[/]")
        if data.get("rotating"):
            console.print("[yellow]轮换未完成 rotation unfinished: shouhou keys rotate --resume[/]")
        table = Table(
            "表.列 model.column",
            *[k + (" *" if k == current else "") for k in kids],
            "plain",
            "unknown",
        )
        for ec in encrypted_models():
            for column in ec.columns:
                counts = count_by_key(ec, column, kids)
                table.add_row(
                    f"{ec.label}.{column}",
                    *[str(counts[k]) for k in kids],
                    str(counts["plain"]),
                    str(counts["unknown"]),
                )
        console.print(table)
