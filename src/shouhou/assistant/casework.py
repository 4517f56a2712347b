"""Where the assistant touches cases and the FAQ: an angry buyer raises a case's priority,
a suggested type is fitted to the shop's policy, a corrected FAQ match teaches retrieval.

`read_case_description` is called by `cases.services.open_case` inside its transaction;
the models are imported only when there is text to read, so opening a case without a
description never loads them.
"""

from __future__ import annotations

from shouhou.cases import lifecycle as lc
from shouhou.cases.actors import Actor
from shouhou.cases.models import Case, Priority
from shouhou.core.models import Shop

from .models import FaqEntry

ASSISTANT_LABEL = "智能客服"
MAX_KEYWORDS = 2000  # the FAQ form's limit for 相似问法
MAX_PHRASING = 200
# When triage suggests a type the reason does not allow, the first allowed one of these.
TYPE_PREFERENCE = (
    lc.CaseType.RETURN_REFUND,
    lc.CaseType.REFUND_ONLY,
    lc.CaseType.EXCHANGE,
    lc.CaseType.RESHIP,
    lc.CaseType.REPAIR,
    lc.CaseType.PRICE_PROTECT,
)


def _assistant(shop_id: int) -> Actor:
    return Actor.system(shop_id, label=ASSISTANT_LABEL)


def anger(text: str) -> tuple[bool, float]:
    """(angry?, probability that the text is negative)."""
    from . import nlp

    if not (text or "").strip():
        return False, 0.0
    return nlp.is_angry(text), nlp.negative_probability(nlp.sentiment(text))


def read_case_description(case: Case) -> None:
    """A new case whose description is angry gets priority HIGH (never lowered) and an
    internal note saying why. Runs inside open_case's transaction; refreshes `case`."""
    angry, negative = anger(case.description)
    if angry:
        _raise_priority(case, negative, where="")


def angry_message(case_id: int, negative: float) -> None:
    """An angry chat message on a conversation linked to an open case: the same raise."""
    case = Case.objects.filter(pk=case_id).first()
    if case is not None and case.is_open:
        _raise_priority(case, negative, where="在会话中")


def _raise_priority(case: Case, negative: float, *, where: str) -> None:
    from shouhou.cases import services

    if case.priority >= Priority.HIGH:
        return  # already high or urgent: nothing to raise, nothing to repeat on the timeline
    system = _assistant(case.shop_id)
    services.set_priority(case.id, system, priority=Priority.HIGH)
    services.add_note(
        case.id,
        system,
        text=f"{ASSISTANT_LABEL}：买家{where}情绪激动（负面 {negative:.2f}），已提升优先级",
        internal=True,
    )
    # The caller keeps using this object (open_case returns it): bring version and
    # priority up to date.
    case.refresh_from_db(fields=["priority", "version", "updated_at"])


def allowed_type(shop: Shop, reason: str, suggested: str) -> str:
    """The suggested case type if the shop's policy allows it for the reason, else the
    first allowed type in TYPE_PREFERENCE."""
    from shouhou.cases.policies import current_policy

    policy = current_policy(shop)
    override = (policy.reason_types or {}).get(reason)
    try:
        default = lc.DEFAULT_REASON_TYPES[lc.Reason(reason)]
    except ValueError:
        default = frozenset(lc.CaseType)
    allowed = set(override) if override is not None else {t.value for t in default}
    if suggested in allowed:
        return suggested
    return next((t.value for t in TYPE_PREFERENCE if t.value in allowed), suggested)


def learn_phrasing(entry: FaqEntry, text: str) -> bool:
    """Add the buyer's words to the entry's 相似问法 (one per line) unless they are there
    already or would overflow the field; True when added. Saving bumps updated_at, which
    makes retrieval rebuild the shop's index."""
    from . import nlp

    phrasing = " ".join((text or "").split())[:MAX_PHRASING]
    if not phrasing:
        return False
    lines = [line for line in (entry.keywords or "").splitlines() if line.strip()]
    known = {nlp.normalize(line) for line in lines} | {nlp.normalize(entry.question)}
    if nlp.normalize(phrasing) in known:
        return False
    keywords = "\n".join([*lines, phrasing])
    if len(keywords) > MAX_KEYWORDS:
        return False
    entry.keywords = keywords
    entry.save(update_fields=["keywords", "updated_at"])
    return True
