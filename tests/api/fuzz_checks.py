"""A check of our own for schemathesis, used by tests/api/test_fuzz.py and by `make fuzz`
(`hooks` in tests/api/schemathesis.toml).

schemathesis' `positive_data_acceptance` wants a schema-valid request accepted; this API
also answers 422 to well-formed requests on business grounds that depend on the rows (a
refund above what is refundable, an evidence file whose content is no image), so that check
runs with 422 allowed. This one keeps the part that holds for every request: what the
published schema allows, the request parser accepts — a 400 `malformed_json` or a 422
`validation_error` carrying the parser's field errors means the schema and the parser
disagree, and that is a bug in one of them.
"""

from __future__ import annotations

import json

import schemathesis


@schemathesis.check
def schema_valid_requests_parse(ctx, response, case) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 422):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    details = body.get("details") or {}
    parser_refused = body.get("code") == "malformed_json" or (
        body.get("code") == "validation_error" and isinstance(details, dict) and "errors" in details
    )
    if parser_refused:
        raise AssertionError(
            "The request parser refused a request the published schema allows: "
            f"{json.dumps(details, ensure_ascii=False)[:800]}"
        )
    return True
