"""Who is acting. Every service takes the actor explicitly; nothing reads a request."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .lifecycle import ROLE_LABELS, ActorRole


@dataclass(frozen=True)
class Actor:
    role: ActorRole
    shop_id: int
    label: str = ""
    staff_id: int | None = None
    customer_id: int | None = None  # a buyer acts only on their own cases
    api_key_id: int | None = None
    rule_id: int | None = None  # set when an automation rule acts
    by_deadline: bool = False  # set when the deadline sweep acts
    rule_depth: int = 0  # guards against rules triggering each other forever

    @property
    def display(self) -> str:
        return self.label or ROLE_LABELS[self.role]

    @classmethod
    def system(cls, shop_id: int, *, label: str = "系统", by_deadline: bool = False) -> Actor:
        return cls(role=ActorRole.SYSTEM, shop_id=shop_id, label=label, by_deadline=by_deadline)

    @classmethod
    def for_rule(cls, shop_id: int, rule_id: int, rule_name: str, depth: int) -> Actor:
        return cls(
            role=ActorRole.SYSTEM,
            shop_id=shop_id,
            label=f"规则：{rule_name}",
            rule_id=rule_id,
            rule_depth=depth,
        )

    def deeper(self) -> Actor:
        return replace(self, rule_depth=self.rule_depth + 1)
