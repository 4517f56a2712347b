"""The application clock.

Deadlines are measured against `clock.now()`, never `timezone.now()` directly, so the demo
and the tests can move time (`shouhou tick --to ...`) without sleeping. The offset lives in
the database (one row) so that every process — web workers, huey consumers, the CLI — sees
the same time; each process caches it for a second to keep `now()` off the hot path.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")
# How merchants write times in seller back-end exports and on the command line.
LOCAL_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d",
)

_lock = threading.Lock()
_cache: dict[str, float] = {"offset": 0.0, "read_at": -1e9}
_override: dict[str, datetime | None] = {"frozen": None}
CACHE_SECONDS = 1.0


def _offset_seconds() -> float:
    mono = time.monotonic()
    if mono - _cache["read_at"] < CACHE_SECONDS:
        return _cache["offset"]
    from .models import ClockState

    try:
        row = ClockState.objects.filter(pk=1).values_list("offset_seconds", flat=True).first()
    except Exception:  # noqa: BLE001 — before migrations the table does not exist yet
        row = None
    with _lock:
        _cache["offset"] = float(row or 0.0)
        _cache["read_at"] = mono
    return _cache["offset"]


def parse_local(text: str) -> datetime:
    """A wall-clock time as a merchant in China writes it (Asia/Shanghai unless the text
    carries its own offset). Raises ValueError for anything else."""
    text = text.strip()
    for fmt in LOCAL_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


def now() -> datetime:
    frozen = _override["frozen"]
    if frozen is not None:
        return frozen
    return timezone.now() + timedelta(seconds=_offset_seconds())


def move_to(target: datetime) -> datetime:
    """Move the shared application clock so that now() == target (never backwards)."""
    from .models import ClockState

    if timezone.is_naive(target):
        target = timezone.make_aware(target)
    current = now()
    if target < current:
        raise ValueError(f"the clock only moves forward (now {current.isoformat()})")
    offset = (target - timezone.now()).total_seconds()
    ClockState.objects.update_or_create(pk=1, defaults={"offset_seconds": offset})
    invalidate()
    return now()


def advance(delta: timedelta) -> datetime:
    return move_to(now() + delta)


def reset() -> None:
    from .models import ClockState

    ClockState.objects.filter(pk=1).delete()
    invalidate()


def invalidate() -> None:
    with _lock:
        _cache["read_at"] = -1e9


class frozen:
    """Context manager for tests: pin this process's clock to a fixed instant."""

    def __init__(self, at: datetime) -> None:
        self.at = at if timezone.is_aware(at) else timezone.make_aware(at)
        self.previous: datetime | None = None

    def __enter__(self) -> frozen:
        self.previous = _override["frozen"]
        _override["frozen"] = self.at
        return self

    def advance(self, delta: timedelta) -> datetime:
        self.at = self.at + delta
        _override["frozen"] = self.at
        return self.at

    def __exit__(self, *exc: object) -> None:
        _override["frozen"] = self.previous
