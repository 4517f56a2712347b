"""SIGKILL a deliverer in the middle of an outbox delivery (issue 5, faults).

`shouhou outbox deliver` runs as its own process; the merchant's receiver takes a few
`refund.issued` webhooks and then hangs on one — it has received it, the deliverer waits
for the answer — and the test kills the deliverer right there. A new deliverer must send
everything that was not acknowledged, the interrupted message again with the same message
id, so a receiver that dedupes on it applies every refund exactly once.
"""

from __future__ import annotations

from collections import Counter

from tests.notify.receiver import Receiver

from .conftest import sigkill, stop, wait_for

N = 12
LEASE = {"SHOUHOU_OUTBOX_LEASE_SECONDS": "3", "SHOUHOU_OUTBOX_TIMEOUT": "60"}


def test_a_deliverer_killed_mid_delivery_loses_nothing_and_duplicates_nothing(scratch):
    with Receiver() as receiver:
        seeded = scratch.seed("refunds", str(N), receiver.url, receiver.secret)
        shop = seeded["shop_id"]
        messages = dict(
            scratch.query(
                "SELECT message_id, dedupe_key FROM notify_outboxmessage WHERE shop_id = ?",
                (shop,),
            )
        )
        messages = {str(k).replace("-", ""): v for k, v in messages.items()}
        assert len(messages) == N, "one refund.issued per issued refund"

        receiver.hold_at = 3  # two go through, the third hangs
        first = scratch.start(
            "outbox", "deliver", "--batch", "4", "--interval", "0.2", log="deliver1.log", env=LEASE
        )
        try:
            wait_for(
                "the receiver to hang on a delivery",
                receiver.held.is_set,
                proc=first,
                log=lambda: scratch.log("deliver1.log"),
            )
            sigkill(first)  # in the middle of the delivery: sent, never acknowledged
        finally:
            stop(first)
        interrupted = receiver.arrivals[2].message_id
        receiver.release()
        assert len(receiver.effects) == 3
        rows = scratch.query(
            "SELECT status, attempts FROM notify_outboxmessage WHERE dedupe_key = ?",
            (messages[interrupted.replace("-", "")],),
        )
        assert rows and rows[0][0] == "pending", "the killed deliverer never marked it"

        second = scratch.start(
            "outbox", "deliver", "--batch", "4", "--interval", "0.2", log="deliver2.log", env=LEASE
        )
        try:
            wait_for(
                "every message delivered",
                lambda: (
                    scratch.scalar(
                        "SELECT COUNT(*) FROM notify_outboxmessage "
                        "WHERE shop_id = ? AND status = 'delivered'",
                        (shop,),
                    )
                    == N
                ),
            )
        finally:
            stop(second)

    arrivals = Counter(receiver.ids())
    # The interrupted one came again, with the same message id; acknowledged ones did not.
    assert arrivals[interrupted] == 2, scratch.log("deliver2.log")
    assert [mid for mid, n in arrivals.items() if n > 1] == [interrupted]
    assert all(a.signature_ok for a in receiver.arrivals)
    # The receiver's effects: each refund exactly once.
    effects = [a.json["data"]["reference"] for a in receiver.effects.values()]
    references = [
        r[0]
        for r in scratch.query(
            "SELECT reference FROM cases_refundinstruction WHERE shop_id = ?", (shop,)
        )
    ]
    assert sorted(effects) == sorted(references) and len(references) == N
    assert {str(a.replace("-", "")) for a in receiver.effects} == set(messages)
    # No duplicate refund instruction, one per case.
    per_case = scratch.query(
        "SELECT case_id, COUNT(*) FROM cases_refundinstruction WHERE shop_id = ? GROUP BY case_id",
        (shop,),
    )
    assert sorted(c for c, _ in per_case) == sorted(seeded["case_ids"])
    assert {n for _, n in per_case} == {1}
    attempts = scratch.query(
        "SELECT attempts FROM notify_outboxmessage WHERE dedupe_key = ?",
        (messages[interrupted.replace("-", "")],),
    )
    assert attempts == [(2,)]
