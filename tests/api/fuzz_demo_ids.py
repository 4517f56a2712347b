"""Real ids for `make fuzz`: prints a schemathesis config fragment (dictionaries of the demo
shop's case, order, order line, evidence and staff ids, bound to the parameters of those
names) that the Makefile appends to tests/api/schemathesis.toml for the CLI run.

The in-process run (test_fuzz.py) gets the same effect from its hooks; the CLI, talking to
a served instance over HTTP, only knows what its config tells it. Each binding replaces a
generated value with a real id part of the time (`probability`), so the fuzzer still sends
ids that name nothing.

    python tests/api/fuzz_demo_ids.py sh_<prefix>_<secret> [ids.json] >> fuzz.toml

The optional second argument also writes the pools as JSON, for fuzz_demo_hooks.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PER_KIND = 40  # ids per dictionary: the cases at their various steps, a sample of the rest
PROBABILITY = 0.75
MAX_STEPS = 12


def main(api_key: str, ids_json: str = "") -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shouhou.settings")
    import django

    django.setup()
    from shouhou.cases.models import Case, Evidence
    from shouhou.core.models import ApiKey, StaffMember
    from shouhou.orders.models import Order, OrderLine

    parts = api_key.strip().split("_", 2)
    key = ApiKey.objects.filter(prefix=parts[1] if len(parts) == 3 else "").first()
    if key is None:
        print(f"fuzz_demo_ids: no API key with the prefix of {api_key[:12]}…", file=sys.stderr)
        return 1
    shop = key.shop_id

    def ids(qs) -> list[int]:
        return list(qs.order_by("?").values_list("id", flat=True)[:PER_KIND])

    # One case of every status first (so actions meet each step), then a random sample.
    case_ids: list[int] = []
    for status in Case.objects.filter(shop_id=shop).values_list("status", flat=True).distinct():
        first = Case.objects.filter(shop_id=shop, status=status).values_list("id", flat=True)
        case_ids.extend(first[:2])
    case_ids.extend(i for i in ids(Case.objects.filter(shop_id=shop)) if i not in case_ids)
    pools = {
        "case_ids": case_ids[:PER_KIND],
        "order_ids": ids(Order.objects.filter(shop_id=shop)),
        "line_ids": ids(OrderLine.objects.filter(order__shop_id=shop)),
        "evidence_ids": ids(Evidence.objects.filter(shop_id=shop)),
        "staff_ids": ids(StaffMember.objects.filter(shop_id=shop)),
    }
    # For POST /cases: an order and its own lines (a line of another order is refused).
    pools["order_lines"] = {
        str(order_id): list(
            OrderLine.objects.filter(order_id=order_id).order_by("id").values_list("id", flat=True)
        )
        for order_id in pools["order_ids"]
    }
    bindings = {
        "path.case_id": "case_ids",
        "path.order_id": "order_ids",
        "path.evidence_id": "evidence_ids",
        "body.staff_id": "staff_ids",
        # Not `body.order_id` nor `body.lines[*].order_line_id`: a binding adds the field
        # to a body that names the order (line) by its external id instead, and "exactly
        # one of the two" makes that a request the schema refuses. fuzz_demo_hooks.py swaps
        # those only where the generated body has them.
    }
    out = ["", "# --- appended by tests/api/fuzz_demo_ids.py: the served demo shop's ids ---"]
    for name, values in pools.items():
        if values and name != "order_lines":
            out += [f"[dictionaries.{name}]", f"values = {sorted(values)}", ""]
    # Longer chains than the default 6 steps: order → case → action → action → detail …
    out += ["[phases.stateful]", f"max-steps = {MAX_STEPS}", ""]
    out.append("[parameters]")
    for key_name, pool in bindings.items():
        if pools[pool]:
            out.append(f'"{key_name}" = {{ dictionary = "{pool}", probability = {PROBABILITY} }}')
    print("\n".join(out))
    if ids_json:
        Path(ids_json).write_text(json.dumps(pools))
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
