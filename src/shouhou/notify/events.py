"""What the case engine announces: payloads and dedupe keys for each topic.

Called from cases/services.py (and the batched deadline sweep) inside the action's own
transaction. The dedupe keys are stable facts of the change, so the same change can never
be announced twice even if the code path runs again.
"""

from __future__ import annotations

from typing import Any

from .models import Topic
from .services import enqueue, enqueue_many


def _case(case) -> dict[str, Any]:
    return {"case_id": case.id, "case_number": case.number, "order_id": case.order_id}


def case_opened(case) -> None:
    enqueue(
        case.shop_id,
        Topic.CASE_OPENED,
        {
            **_case(case),
            "type": str(case.type),
            "reason": str(case.reason),
            "status": str(case.status),
            "refund_fen": case.refund_fen,
            "opened_at": case.opened_at.isoformat(),
        },
        dedupe_key=f"case:{case.id}",
    )


def status_changed_payload(
    case_id: int,
    number: str,
    order_id: int,
    action: str,
    from_status: str,
    to_status: str,
    version: int,
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "case_number": number,
        "order_id": order_id,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "version": version,
    }


def status_changed(case, step) -> None:
    enqueue(
        case.shop_id,
        Topic.CASE_STATUS_CHANGED,
        status_changed_payload(
            case.id,
            case.number,
            case.order_id,
            step.action.value,
            str(step.from_status or ""),
            str(step.to_status),
            case.version,
        ),
        # A version is written once: the same step can never be announced twice.
        dedupe_key=f"case:{case.id}:v{case.version}",
    )


def refund_payload(case_id: int, number: str, reference: str, amount_fen: int) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "case_number": number,
        "reference": reference,
        "amount_fen": amount_fen,
    }


def refund_issued(case, refund) -> None:
    enqueue(
        case.shop_id,
        Topic.REFUND_ISSUED,
        refund_payload(case.id, case.number, refund.reference, refund.amount_fen),
        dedupe_key=refund.reference,
    )


def swept(works) -> None:
    """The batched deadline sweep's changes (cases/deadlines.py writes them in bulk)."""
    items: list[tuple[int, str, dict[str, Any], str]] = []
    for w in works:
        row = w.row
        version = w.old_version
        # Timeline rows in order: each step (not the refund_issued note) is one version.
        for ev in w.events:
            action, from_status, to_status = ev[6], ev[7], ev[8]
            if action == "refund_issued":
                continue
            version += 1
            if from_status != to_status:
                payload = status_changed_payload(
                    row["id"],
                    row["number"],
                    row["order_id"],
                    action,
                    from_status,
                    to_status,
                    version,
                )
                items.append(
                    (
                        row["shop_id"],
                        Topic.CASE_STATUS_CHANGED,
                        payload,
                        f"case:{row['id']}:v{version}",
                    )
                )
        if w.allocation is not None:
            payload = refund_payload(row["id"], row["number"], w.reference, row["refund_fen"])
            items.append((row["shop_id"], Topic.REFUND_ISSUED, payload, w.reference))
    enqueue_many(items)
