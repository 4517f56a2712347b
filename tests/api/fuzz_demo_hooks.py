"""schemathesis hooks for `make fuzz` (the CLI against the served demo): the checks of
fuzz_checks.py, plus real order and order-line ids in request bodies.

Path ids come from the config's dictionaries (fuzz_demo_ids.py). Body ids cannot: a
dictionary binding adds `order_id` to a body that names the order by `order_external_id`
(the schema wants exactly one of the two), so this hook swaps a generated id for a real one
only where the body already has that field — three times out of four, as test_fuzz.py's
hooks do in process — and the lines with it, from that same order. The pools are read from
the JSON file named by SHOUHOU_FUZZ_IDS.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

from . import fuzz_checks  # noqa: F401 — registers the check

MAX_BIGINT = 2**63 - 1


def _pools() -> dict[str, Any]:
    path = os.environ.get("SHOUHOU_FUZZ_IDS", "")
    if not path:
        return {}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


POOLS = _pools()


def _real_or(value: Any, pool: list[int]) -> st.SearchStrategy:
    is_id = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_BIGINT
    if not is_id or not pool:
        return st.just(value)
    return st.one_of(
        st.sampled_from(pool), st.sampled_from(pool), st.sampled_from(pool), st.just(value)
    )


def _is_id(value: Any) -> bool:
    """A generated id (a null or a non-integer stays: "exactly one of" counts on it)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_BIGINT


def _order_with_its_lines(body: dict[str, Any]) -> st.SearchStrategy:
    """A real order and, for each generated line that names a line by id, one of that
    order's own lines (one unit half of the time, so the quantity is within the line's)."""
    order_lines: dict[str, list[int]] = POOLS.get("order_lines", {})
    orders = [int(k) for k, v in order_lines.items() if v]
    if not orders:
        return st.just(body)

    def build(order_id: int) -> st.SearchStrategy:
        own = order_lines[str(order_id)]
        lines = body.get("lines")
        if not isinstance(lines, list):
            return st.just({**body, "order_id": order_id})
        parts = []
        for line in lines:
            if isinstance(line, dict) and _is_id(line.get("order_line_id")):
                parts.append(
                    st.tuples(st.sampled_from(own), st.booleans()).map(
                        lambda pair, line=line: {
                            **line,
                            "order_line_id": pair[0],
                            **({"quantity": 1} if pair[1] else {}),
                        }
                    )
                )
            else:
                parts.append(st.just(line))
        return st.tuples(*parts).map(lambda ls: {**body, "order_id": order_id, "lines": list(ls)})

    return st.sampled_from(orders).flatmap(build)


@schemathesis.hook("flatmap_body")
def real_order_ids(ctx, body: Any) -> st.SearchStrategy:
    """Three times out of four, a body naming an order by id names a real one (and its
    lines); the rest stay as generated."""
    if not isinstance(body, dict) or not POOLS or "customer" in body:
        return st.just(body)
    if not _is_id(body.get("order_id")):
        return st.just(body)
    real = _order_with_its_lines(body)
    return st.one_of(real, real, real, st.just(body))
