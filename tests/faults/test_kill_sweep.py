"""SIGKILL the deadline sweep between batches and mid-batch (issue 5, faults).

Hundreds of cases fall due at once; `shouhou tick` sweeps them in small batches as its
own process. As soon as the first batch has committed the test freezes the process
(SIGSTOP: wherever it is, usually inside a later batch's transaction), counts what was
committed, and SIGKILLs it. A second sweep must finish the job: every due case acted on
exactly once, none skipped, one refund instruction per refunded case, one refund.issued
message per refund.
"""

from __future__ import annotations

import os
import signal

from .conftest import sigkill, stop, wait_for

N = 400
BATCH = {"SHOUHOU_SWEEP_BATCH": "8"}


def acted(scratch, shop: int) -> int:
    return scratch.scalar(
        "SELECT COUNT(DISTINCT case_id) FROM cases_timelineevent "
        "WHERE shop_id = ? AND action = 'agree' AND by_deadline = ?",
        (shop, True),
    )


def test_a_sweep_killed_mid_run_acts_on_every_case_exactly_once(scratch):
    seeded = scratch.seed("due", str(N))
    shop, case_ids = seeded["shop_id"], seeded["case_ids"]
    assert acted(scratch, shop) == 0

    proc = scratch.start("tick", "--hours", "0.001", log="sweep1.log", env=BATCH)
    try:
        wait_for(
            "the first batch to commit",
            lambda: acted(scratch, shop) > 0,
            every=0.005,
            proc=proc,
            log=lambda: scratch.log("sweep1.log"),
        )
        os.kill(proc.pid, signal.SIGSTOP)  # frozen wherever it is
        at_kill = acted(scratch, shop)
        sigkill(proc)
    finally:
        stop(proc)
    assert 0 < at_kill < N, f"the kill must land mid-sweep (acted on {at_kill} of {N})"

    scratch.run("tick", "--hours", "0.001", env=BATCH)

    # Every case acted on exactly once by the deadline.
    per_case = dict(
        scratch.query(
            "SELECT case_id, COUNT(*) FROM cases_timelineevent "
            "WHERE shop_id = ? AND action = 'agree' AND by_deadline = ? GROUP BY case_id",
            (shop, True),
        )
    )
    assert sorted(per_case) == sorted(case_ids), "none skipped"
    assert set(per_case.values()) == {1}, "none acted on twice"
    statuses = dict(scratch.query("SELECT id, status FROM cases_case WHERE shop_id = ?", (shop,)))
    assert set(statuses.values()) <= {"refunding", "awaiting_buyer_return"}
    # Refund-only cases (every other one) got exactly one refund instruction each.
    refunded = sorted(case_ids[0::2])
    refunds = scratch.query(
        "SELECT case_id, reference FROM cases_refundinstruction WHERE shop_id = ? ORDER BY case_id",
        (shop,),
    )
    assert [c for c, _ in refunds] == refunded
    announced = scratch.query(
        "SELECT dedupe_key FROM notify_outboxmessage WHERE shop_id = ? AND topic = 'refund.issued'",
        (shop,),
    )
    assert sorted(k for (k,) in announced) == sorted(r for _, r in refunds)
    # One status change announced per case (a killed batch announced nothing).
    changes = scratch.scalar(
        "SELECT COUNT(*) FROM notify_outboxmessage WHERE shop_id = ? AND topic = 'case.status_changed'",
        (shop,),
    )
    opened_changes = N // 2  # return_refund cases were opened awaiting the merchant too
    assert changes == N, (changes, opened_changes)
