"""Builds data in a fault test's scratch database, run as its own process:

    python -m tests.faults.seed refunds N URL SECRET   # N refund-only cases, agreed (refund issued)
    python -m tests.faults.seed due N                  # N cases whose deadline has passed
    python -m tests.faults.seed api N                  # a shop, an API key and N orders

Prints one JSON line with what the test needs (ids, the API key).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta


def main(argv: list[str]) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shouhou.settings")
    import django

    django.setup()
    from shouhou.cases import services
    from shouhou.core import clock
    from shouhou.core.models import ApiKey
    from shouhou.notify.models import Endpoint
    from tests.cases.support import Staff, open_case
    from tests.factories import make_order, make_shop

    what, n = argv[0], int(argv[1])
    shop = make_shop(code=f"fault-{what}")
    if what == "refunds":
        url, secret = argv[2], argv[3]
        Endpoint.objects.create(
            shop=shop,
            name="ERP",
            channel="webhook",
            url=url,
            secret=secret,
            topics=["refund.issued"],
        )
        agent = Staff.of(shop).agent
        ids = []
        for _ in range(n):
            case = open_case(shop, make_order(shop), "refund_only")
            services.agree(case.id, agent)
            ids.append(case.id)
        return {"shop_id": shop.id, "case_ids": ids}
    if what == "due":
        # The outbox records what the sweep announces (delivery is not part of this test).
        Endpoint.objects.create(shop=shop, name="ERP", channel="webhook", url="http://127.0.0.1:9/")
        ids = []
        for i in range(n):
            kind = "refund_only" if i % 2 == 0 else "return_refund"
            ids.append(open_case(shop, make_order(shop), kind).id)
        clock.move_to(clock.now() + timedelta(hours=80))  # every one past its agree deadline
        return {"shop_id": shop.id, "case_ids": ids}
    if what == "api":
        _, secret = ApiKey.issue(shop, "fault-test")
        Endpoint.objects.create(shop=shop, name="ERP", channel="webhook", url="http://127.0.0.1:9/")
        orders = []
        for _ in range(n):
            order = make_order(shop, lines=[(1, 5000)])
            orders.append([order.id, order.lines.get().id])
        return {"shop_id": shop.id, "api_key": secret, "order_ids": orders}
    raise SystemExit(f"unknown seed {what!r}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
