"""Sustained mixed load at a fixed arrival rate: latency, errors and server memory.

`shouhou serve` (gunicorn, 2 sync workers, rate limits off) on a database pre-filled with
open cases (default 5,000, one shop) and fresh orders. The client is open-loop: request i
is sent at t0 + i / rate whatever happened to the ones before, so a slow server shows as
latency (measured from the scheduled instant, so time queued in the client counts too)
and not as a lower rate. The kinds come in a fixed proportion, in a fixed shuffled
pattern:

- open    20 % `POST /api/v1/cases` with an Idempotency-Key, each on a fresh order (201)
- action  10 % `POST /api/v1/cases/<id>/actions/agree` on a case this run opened (the
               oldest not yet acted on; a pre-filled awaiting_merchant one if none) (200)
- queue   30 % `GET /api/v1/cases?limit=50`, every other one filtered by status (200)
- portal  40 % `GET /portal/order/`: a buyer's order page, with the session a signed order
               link (`/portal/o/<token>/`, portal/links.py) started before the run (200)

Server memory is sampled every second from /proc: RSS and PSS of the gunicorn master and
its workers, summed (PSS shares the pages the workers share with the master). Reported:
the first sample (after the warm-up), the peak and the last.

    .venv/bin/python -m bench.load [--quick] [--minutes 3] [--rate 25] [--db pg|sqlite]
                                   [--rows 5000] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

from bench import common as c
from bench import peer

NAME = "load"
MIX = {"open": 20, "action": 10, "queue": 30, "portal": 40}
LINKS = 200  # buyers with a portal session


# --- memory of the server processes -------------------------------------------------------
def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …; comm may hold spaces and parentheses
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def _kb(path: Path, field: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(master: int) -> dict[str, Any]:
    pids = [master, *_children(master)]
    rss = {p: _kb(Path(f"/proc/{p}/status"), "VmRSS") for p in pids}
    pss = {p: _kb(Path(f"/proc/{p}/smaps_rollup"), "Pss") for p in pids}
    return {
        "t": time.time(),
        "processes": len(pids),
        "rss_mb": sum(rss.values()) / 1024,
        "pss_mb": sum(pss.values()) / 1024,
        "master_rss_mb": rss[master] / 1024,
        "worker_rss_mb": [rss[p] / 1024 for p in pids[1:]],
    }


class MemorySampler(threading.Thread):
    def __init__(self, master: int, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.master, self.every = master, every
        self.samples: list[dict] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append(memory(self.master))
            self.halt.wait(self.every)

    def stop(self) -> dict[str, Any]:
        self.halt.set()
        self.join()
        self.samples.append(memory(self.master))
        s = self.samples
        peak = max(s, key=lambda x: x["rss_mb"])
        return {
            "samples": len(s),
            "start": s[0],
            "peak": peak,
            "peak_pss_mb": max(x["pss_mb"] for x in s),
            "end": s[-1],
        }


# --- the load -----------------------------------------------------------------------------
def pattern(seed: int = 5) -> list[str]:
    kinds = [k for k, w in MIX.items() for _ in range(w)]
    random.Random(seed).shuffle(kinds)
    return kinds


async def buyer_sessions(port: int, links: list[str]) -> list[str]:
    """Open each signed link once; keep the session cookie it sets."""
    cookies = []
    for link in links:
        status, headers, _ = await peer.send(port, peer.http_request("GET", link))
        if status != 302:
            raise RuntimeError(f"signed link {link[:40]}… answered {status}")
        jar = "; ".join(v.split(";", 1)[0] for v in headers["set-cookie"])
        cookies.append(jar)
    return cookies


class Pools:
    """What the runs share: fresh orders are used once, a case is agreed to once."""

    def __init__(self, prep: dict) -> None:
        self.orders = iter(range(prep["orders"]))
        self.opened: deque[int] = deque()  # cases this run opened, oldest first
        self.agreeable: deque[int] = deque(prep["agreeable"])


async def open_loop(
    port: int, prep: dict, pools: Pools, cookies: list[str], *, rate: float, seconds: float
) -> dict:
    secret = prep["secret"]
    auth = {"Authorization": f"Bearer {secret}"}
    opened, agreeable, orders = pools.opened, pools.agreeable, pools.orders
    kinds = pattern()
    queues = [
        peer.http_request("GET", "/api/v1/cases?limit=50", auth),
        peer.http_request("GET", "/api/v1/cases?limit=50&status=awaiting_merchant", auth),
    ]
    portal = [
        peer.http_request("GET", "/portal/order/", {"Cookie": jar, "Accept": "text/html"})
        for jar in cookies
    ]
    agree_body = b"{}"
    stats: dict[str, dict[str, Any]] = {
        k: {"latencies": [], "statuses": {}, "samples": []} for k in MIX
    }
    lag: list[float] = []

    def build(i: int, kind: str) -> tuple[bytes, int]:
        if kind == "open":
            n = next(orders)
            body = peer.shouhou_case_body(prep["order0"] + n, prep["line0"] + n)
            head = {**auth, "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
            return peer.http_request("POST", "/api/v1/cases", head, body), 201
        if kind == "action":
            case_id = opened.popleft() if opened else agreeable.popleft()
            path = f"/api/v1/cases/{case_id}/actions/agree"
            head = {**auth, "Content-Type": "application/json"}
            return peer.http_request("POST", path, head, agree_body), 200
        if kind == "queue":
            return queues[i % len(queues)], 200
        return portal[i % len(portal)], 200

    async def one(i: int, kind: str, scheduled: float) -> None:
        request, ok = build(i, kind)
        lag.append(time.perf_counter() - scheduled)
        try:
            status, _, content = await peer.send(port, request, timeout=120)
        except (TimeoutError, OSError, ValueError, IndexError) as e:
            status, content = 0, repr(e).encode()
        done = time.perf_counter()
        s = stats[kind]
        s["latencies"].append(done - scheduled)
        s["statuses"][status] = s["statuses"].get(status, 0) + 1
        if status == 201 and kind == "open":
            opened.append(json.loads(content)["id"])
        elif status != ok and len(s["samples"]) < 5:
            s["samples"].append(f"{status}: {content[:300].decode(errors='replace')}")

    tasks = set()
    total = int(rate * seconds)
    t0 = time.perf_counter()
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, kinds[i % len(kinds)], scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sent_elapsed = time.perf_counter() - t0
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    ok_for = {"open": 201, "action": 200, "queue": 200, "portal": 200}
    out: dict[str, Any] = {
        "target_rate": rate,
        "scheduled": total,
        "sent_rate": total / sent_elapsed,
        "completed_rate": total / elapsed,
        "send_seconds": sent_elapsed,
        "seconds_until_last_answer": elapsed,
        "client_lag_ms": c.percentiles(lag),
        "kinds": {},
    }
    every: list[float] = []
    for kind, s in stats.items():
        good = s["statuses"].get(ok_for[kind], 0)
        n = sum(s["statuses"].values())
        every += s["latencies"]
        out["kinds"][kind] = {
            "requests": n,
            "ok": good,
            "errors": n - good,
            "statuses": {str(k): v for k, v in sorted(s["statuses"].items())},
            "error_samples": s["samples"],
            "ok_per_s": good / elapsed,
            **c.percentiles(s["latencies"]),
        }
    out["overall"] = {
        "requests": len(every),
        "ok": sum(k["ok"] for k in out["kinds"].values()),
        "errors": sum(k["errors"] for k in out["kinds"].values()),
        **c.percentiles(every),
    }
    out["overall"]["ok_per_s"] = out["overall"]["ok"] / elapsed
    return out


# --- the parent ---------------------------------------------------------------------------
def run(
    *,
    quick: bool = False,
    minutes: float = 3.0,
    rate: float = 25.0,
    db: str = "pg",
    rows: int = 5000,
    workers: int = peer.WORKERS,
) -> dict:
    seconds = 30.0 if quick else minutes * 60
    vendor = "postgresql" if db in ("pg", "postgresql") else "sqlite"
    if vendor == "postgresql" and not c.pg_available():
        raise SystemExit(f"PostgreSQL is not reachable at {c.PG_SERVER}")
    info = c.machine()
    load_before = c.load_average()
    target = c.db_for(vendor, "load")
    target.create_empty()
    data_dir = c.DATA_DIR / f"load_{vendor}"
    shutil.rmtree(data_dir, ignore_errors=True)
    os.environ["SHOUHOU_DATA_DIR"] = str(data_dir)  # the child signs links as the server
    need_orders = int(rate * seconds * MIX["open"] / sum(MIX.values()) * 1.2) + 500
    print(f"preparing {target.label}: {rows:,} open cases, {need_orders:,} fresh orders …")
    prep = c.child(
        "peer",
        {"url": target.url, "rows": rows, "orders": need_orders, "links": LINKS},
        timeout=900,
    )
    server = peer.start_shouhou(target.url, data_dir, workers)
    try:
        cookies = asyncio.run(buyer_sessions(server.port, prep["links"]))
        # warm-up: every kind, a few seconds at the same rate (its opens use fresh orders)
        pools = Pools(prep)
        asyncio.run(open_loop(server.port, prep, pools, cookies, rate=rate, seconds=5))
        sampler = MemorySampler(server.proc.pid)
        sampler.start()
        print(f"running {seconds:.0f} s at {rate:g} requests/s …", flush=True)
        result = asyncio.run(
            open_loop(server.port, prep, pools, cookies, rate=rate, seconds=seconds)
        )
        mem = sampler.stop()
        log_tail = Path(server.log.name).read_text()[-4000:]
    finally:
        server.stop()
    errors_in_log = [ln for ln in log_tail.splitlines() if "Traceback" in ln or "[ERROR]" in ln]
    target.drop()
    load_after = c.load_average()
    rows_out = []
    for kind, k in result["kinds"].items():
        rows_out.append(
            [
                kind,
                f"{MIX[kind]} %",
                k["requests"],
                k["ok_per_s"],
                k["p50_ms"],
                k["p95_ms"],
                k["p99_ms"],
                k["max_ms"],
                k["errors"],
                ", ".join(f"{s}×{n}" for s, n in k["statuses"].items()),
            ]
        )
    o = result["overall"]
    rows_out.append(
        [
            "overall",
            "100 %",
            o["requests"],
            o["ok_per_s"],
            o["p50_ms"],
            o["p95_ms"],
            o["p99_ms"],
            o["max_ms"],
            o["errors"],
            "",
        ]
    )

    def mb(x: dict) -> str:
        return f"RSS {x['rss_mb']:.0f} MB / PSS {x['pss_mb']:.0f} MB ({x['processes']} processes)"

    c.print_table(
        f"Sustained mixed load 混合持续压测 — {target.label}, {rate:g} requests/s target for "
        f"{seconds:.0f} s, open-loop",
        [
            "kind",
            "share",
            "requests",
            "ok/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "errors",
            "statuses",
        ],
        rows_out,
        caption=c.machine_line(info)
        + f"\nload average before/after: {load_before} / {load_after}"
        + f"\nrate: target {rate:g}/s · sent {result['sent_rate']:.2f}/s · answered "
        f"{result['completed_rate']:.2f}/s (last answer {result['seconds_until_last_answer']:.1f}"
        f" s after the first send) · client lag p99 {result['client_lag_ms']['p99_ms']:.1f} ms"
        + f"\nmemory (gunicorn master + {workers} workers): start {mb(mem['start'])} · peak "
        f"{mb(mem['peak'])} · end {mb(mem['end'])} · {mem['samples']} samples, 1 s apart"
        + f"\ndata: {prep['cases']:,} cases in one shop at the start ({rows:,} pre-filled open), "
        f"{LINKS} buyer sessions; server: shouhou serve, {workers} sync workers, rate limits "
        "off; latency from the scheduled send",
    )
    payload = {
        "benchmark": NAME,
        "machine": info,
        "load_average": {"before": load_before, "after": load_after},
        "database": vendor,
        "quick": quick,
        "mix": MIX,
        "rows": rows,
        "cases_at_start": prep["cases"],
        "buyer_sessions": LINKS,
        "workers": workers,
        "server": " ".join(a if "/" not in a else Path(a).name for a in server.argv),
        "result": result,
        "memory": mem,
        "server_log_errors": errors_in_log,
    }
    path = c.save(NAME if vendor == "postgresql" else f"{NAME}_sqlite", payload)
    print(f"written {path}")
    return payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=25.0, help="requests per second")
    parser.add_argument("--db", default="pg", choices=["pg", "sqlite"])
    parser.add_argument("--rows", type=int, default=5000, help="pre-filled open cases")
    parser.add_argument("--workers", type=int, default=peer.WORKERS)
    a = parser.parse_args()
    run(
        quick=a.quick,
        minutes=a.minutes,
        rate=a.rate,
        db=a.db,
        rows=a.rows,
        workers=a.workers,
    )


if __name__ == "__main__":
    main()
