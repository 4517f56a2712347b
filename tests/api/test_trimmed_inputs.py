"""Texts the services trim are accepted with white space around them (cases/schemas.py).

ERP and CSV exports carry a leading blank or a trailing newline on a tracking number; the
service strips and upper-cases it. The published patterns must not turn those into a 422
`validation_error` before the service sees them, and a tracking number of the wrong shape
answers the documented `invalid_tracking`.
"""

from __future__ import annotations

import re

import pytest

from shouhou.cases import services
from shouhou.cases.schemas import NON_BLANK, TRACKING_PATTERN
from tests.cases.support import open_case
from tests.factories import make_order, staff_actor

from .support import buyer_api


@pytest.fixture
def awaiting_return(shop):
    order = make_order(shop)
    case = open_case(shop, order, "return_refund")
    case = services.agree(case.id, staff_actor(shop, "agent"), expected_version=case.version)
    return case, buyer_api(order)


@pytest.mark.parametrize(
    "tracking_no", [" SF1234567890", "SF1234567890\n", "\tsf1234567890\r\n", "\u3000SF1234567890"]
)
def test_a_tracking_number_with_white_space_around_it_is_shipped(awaiting_return, tracking_no):
    case, buyer = awaiting_return
    body = {"version": case.version, "carrier": " 顺丰 \n", "tracking_no": tracking_no}
    shipped = buyer.act(case.id, "ship_return", body)
    assert shipped.status_code == 200, shipped.content
    shipment = shipped.json()["shipments"][0]
    assert shipment["tracking_no"] == "SF1234567890"
    assert shipment["carrier"] == "顺丰"
    assert re.search(TRACKING_PATTERN, tracking_no)  # and the published schema says so


@pytest.mark.parametrize("tracking_no", ["SF12", "SF-1234567890", "", "   ", "S" * 31])
def test_a_malformed_tracking_number_is_invalid_tracking(awaiting_return, tracking_no):
    case, buyer = awaiting_return
    body = {"version": case.version, "carrier": "顺丰", "tracking_no": tracking_no}
    refused = buyer.act(case.id, "ship_return", body)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_tracking"
    assert not re.search(TRACKING_PATTERN, tracking_no)


def test_required_texts_take_white_space_around_them(shop, awaiting_return):
    from .support import key_api, staff_api

    case, _ = awaiting_return
    agent = staff_api(shop, "agent")
    noted = agent.act(case.id, "note", {"version": case.version, "text": "\n 已联系买家 \n"})
    assert noted.status_code == 200, noted.content
    # Only white space is still blank, the published pattern included.
    blank = agent.act(case.id, "note", {"version": noted.json()["version"], "text": " \n\u3000"})
    assert blank.status_code == 422 and blank.json()["code"] == "validation_error"
    assert not re.search(NON_BLANK, " \n\u3000") and re.search(NON_BLANK, "\n 已联系买家 \n")
    # A carrier's event with the tracking number as the export wrote it finds the parcel.
    from tests.factories import buyer as buyer_actor

    order_case = services.ship_return(
        case.id,
        buyer_actor(case.order),
        carrier="顺丰",
        tracking_no="SF999999999",
    )
    event = key_api(shop).post(
        "/logistics/events",
        {"carrier": " 顺丰 ", "tracking_no": " sf999999999\n", "event": "delivered"},
    )
    assert event.status_code == 200, event.content
    assert event.json()["case_ids"] == [order_case.id]
