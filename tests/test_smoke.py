from shouhou.cases import services
from tests.factories import buyer, make_order, staff_actor


def test_return_refund_walks_to_completed(shop):
    order = make_order(shop)
    line = order.lines.get()
    case = services.open_case(
        shop,
        buyer(order),
        order=order,
        type="return_refund",
        reason="quality",
        lines=[services.LineRequest(line.id, 1)],
    )
    case = services.agree(case.id, staff_actor(shop, "agent"))
    case = services.ship_return(case.id, buyer(order), carrier="顺丰", tracking_no="SF1234567890")
    case = services.confirm_receipt(case.id, staff_actor(shop, "warehouse"))
    case = services.confirm_refund(case.id, staff_actor(shop, "finance"))
    assert case.status == "completed"
    line.refresh_from_db()
    assert line.refunded_fen == 5000
    assert [e.action for e in case.timeline.all()] == [
        "open",
        "agree",
        "ship_return",
        "confirm_receipt",
        "refund_issued",
        "confirm_refund",
    ]
