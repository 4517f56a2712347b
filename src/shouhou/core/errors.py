"""Errors users see: a stable code, an HTTP status, a Chinese and an English message.

Services raise `ShouhouError(code, **params)`; the API turns it into
`{"code": ..., "message": ..., "details": {...}}` in the language the caller asked for.
"""

from __future__ import annotations

from typing import Any

# code: (http status, 中文, English). Messages say what is wrong and what to do.
CATALOG: dict[str, tuple[int, str, str]] = {
    "validation_error": (
        422,
        "请求内容不合法：{detail}",
        "The request is not valid: {detail}",
    ),
    "malformed_json": (
        400,
        "请求体不是合法的 JSON，请检查格式。",
        "The request body is not valid JSON.",
    ),
    "payload_too_large": (
        413,
        "请求体过大（上限 {limit} 字节），请缩小后重试。",
        "The request body is too large (limit {limit} bytes).",
    ),
    "not_authenticated": (
        401,
        "未登录或 API 密钥无效，请提供有效凭证。",
        "Not authenticated: provide a valid API key or log in.",
    ),
    "permission_denied": (
        403,
        "当前角色（{role_label}）无权执行该操作。",
        "Your role ({role}) may not do this.",
    ),
    "not_found": (404, "{what}不存在。", "{what} not found."),
    "action_not_allowed": (
        409,
        "售后单当前状态为「{status_label}」，不能执行「{action_label}」。",
        "The case is {status}; '{action}' is not allowed now.",
    ),
    "role_not_allowed": (
        403,
        "角色「{role_label}」不能对售后单执行「{action_label}」。",
        "Role '{role}' may not perform '{action}' on a case.",
    ),
    "type_not_allowed": (
        409,
        "「{type_label}」类型的售后单不能执行「{action_label}」。",
        "'{action}' does not apply to a {type} case.",
    ),
    "case_conflict": (
        409,
        "售后单刚刚被他人处理过（版本 {expected} → {actual}），请刷新后重试。",
        "The case was changed by someone else (version {expected} → {actual}); reload and retry.",
    ),
    "refund_exceeds_paid": (
        422,
        "退款金额 {requested} 分超过可退金额 {refundable} 分。",
        "The refund of {requested} fen exceeds the refundable {refundable} fen.",
    ),
    "quantity_exceeds_ordered": (
        422,
        "订单行 {line} 的售后数量 {requested} 超过可申请数量 {available}。",
        "Order line {line}: quantity {requested} exceeds the {available} that can be claimed.",
    ),
    "unknown_order_line": (
        422,
        "订单行 {line} 不属于该订单。",
        "Order line {line} does not belong to this order.",
    ),
    "duplicate_line": (422, "订单行 {line} 重复出现。", "Order line {line} appears twice."),
    "case_already_open": (
        409,
        "订单行 {line} 已有进行中的「{type_label}」售后单 {case}。",
        "Order line {line} already has an open {type} case {case}.",
    ),
    "order_not_paid": (
        422,
        "订单尚未付款或已取消，不能申请售后。",
        "The order is not paid (or was cancelled); no after-sales request is possible.",
    ),
    "outside_after_sales_window": (
        422,
        "已超过售后期限（签收后 {days} 天）。",
        "The after-sales window ({days} days after delivery) has passed.",
    ),
    "reason_not_allowed": (
        422,
        "原因「{reason_label}」不适用于「{type_label}」。",
        "The reason '{reason}' does not allow a {type} request.",
    ),
    "reason_requires_unshipped": (
        422,
        "订单已发货，不能以「不想要了(未发货)」申请；请选择七天无理由退货或其他原因。",
        "The order has shipped: 'changed mind (not shipped)' no longer applies; "
        "choose the 7-day no-reason return or another reason.",
    ),
    "deadline_expired": (
        409,
        "该步骤的期限已过（{deadline}），系统将按超时规则处理。",
        "The deadline for this step has passed ({deadline}); the timeout rule applies.",
    ),
    "finance_approval_required": (
        409,
        "退款金额超过店铺审批额度 {limit} 分，需财务审批。",
        "The refund exceeds the shop's approval limit of {limit} fen and needs finance approval.",
    ),
    "already_rated": (409, "该售后单已评价过。", "This case has already been rated."),
    "rating_window_closed": (
        409,
        "评价期已过（完成后 {days} 天内可评价）。",
        "The rating window ({days} days) has closed.",
    ),
    "reopen_not_allowed": (
        409,
        "该售后单不能再次申请（每单仅可重新申请一次，且须在售后期内）。",
        "This case cannot be re-opened (only once, within the after-sales window).",
    ),
    "idempotency_key_reused": (
        422,
        "Idempotency-Key 已用于另一个不同的请求。",
        "This Idempotency-Key was already used for a different request.",
    ),
    "duplicate_request": (
        409,
        "相同的请求正在处理中，请稍后重试。",
        "The same request is already being processed; retry shortly.",
    ),
    "refund_already_issued": (
        409,
        "该售后单的退款指令已发出，不会重复退款。",
        "The refund instruction for this case was already issued; it is never issued twice.",
    ),
    "invalid_tracking": (
        422,
        "物流单号格式不正确：只能包含字母和数字，长度 6–30。",
        "The tracking number must be 6–30 letters and digits.",
    ),
    "no_return_address": (
        422,
        "店铺尚未设置退货地址，请先在设置中添加。",
        "The shop has no return address; add one in the settings first.",
    ),
    "proposal_invalid": (422, "方案不合法：{detail}", "The proposal is not valid: {detail}"),
    "evidence_invalid": (
        422,
        "凭证文件不合法：{detail}",
        "The evidence file is not valid: {detail}",
    ),
    "too_many_evidence": (
        422,
        "凭证最多 {limit} 个。",
        "At most {limit} evidence files per case.",
    ),
    "rule_invalid": (422, "规则不合法：{detail}", "The rule is not valid: {detail}"),
    "import_invalid": (422, "导入文件第 {row} 行有误：{detail}", "Import row {row}: {detail}"),
    "shop_ambiguous": (
        400,
        "您属于多个店铺，请用 X-Shop 请求头或 ?shop= 参数指定店铺代码。",
        "You belong to several shops: name one with the X-Shop header or ?shop=.",
    ),
    "csrf_failed": (
        403,
        "CSRF 校验失败：请带上 X-CSRFToken 请求头后重试。",
        "CSRF check failed: send the X-CSRFToken header with the session cookie.",
    ),
    "too_many_attempts": (
        429,
        "尝试次数过多，请 {minutes} 分钟后再试。",
        "Too many attempts; try again in {minutes} minutes.",
    ),
    # Shop settings (team, return addresses).
    "last_admin": (
        409,
        "店铺至少需要一名启用的店长：不能停用或降级最后一名店长。",
        "The shop needs at least one active admin: the last one cannot be removed or demoted.",
    ),
    "cannot_change_self": (
        409,
        "不能停用自己或修改自己的角色，请让另一位店长操作。",
        "You cannot deactivate yourself or change your own role; ask another admin.",
    ),
    "already_member": (
        409,
        "用户 {username} 已是本店员工。",
        "User {username} is already a member of this shop.",
    ),
    "return_address_default": (
        409,
        "默认退货地址不能删除：请先把另一个地址设为默认。",
        "The default return address cannot be deleted: make another one the default first.",
    ),
    "return_address_in_use": (
        409,
        "该退货地址正被 {count} 个进行中的售后单使用，不能删除。",
        "This return address is used by {count} open case(s) and cannot be deleted.",
    ),
    "internal_error": (
        500,
        "服务器内部错误，请稍后重试；如持续出现请联系管理员。",
        "Internal server error; retry later and tell the administrator if it persists.",
    ),
    "rate_limited": (
        429,
        "请求过于频繁（每 {period} 秒最多 {limit} 次），请在 {retry_after} 秒后重试。",
        "Too many requests (at most {limit} per {period} s); retry in {retry_after} s.",
    ),
    "customer_has_open_cases": (
        409,
        "该客户还有 {count} 个未结束的售后单，请先处理完毕再删除其个人信息。",
        "The customer still has {count} open case(s); finish them before erasing their data.",
    ),
    "malformed_body": (
        400,
        "请求体格式不正确（{detail}），请检查 Content-Type 与内容。",
        "The request body is malformed ({detail}); check the Content-Type and the content.",
    ),
    "amount_too_large": (
        422,
        "金额超出可记录的范围：{detail}",
        "The amount is beyond what can be recorded: {detail}",
    ),
    "notify_url_private": (
        422,
        "通知地址指向本机或内网（{host}），出于安全不允许。请填写公网地址；内网部署可由运维设置 SHOUHOU_WEBHOOK_ALLOW_PRIVATE=1。",
        "The notification URL points at this machine or a private network ({host}), which is not allowed. Use a public address; an operator may set SHOUHOU_WEBHOOK_ALLOW_PRIVATE=1 for a LAN deployment.",
    ),
    "notify_url_invalid": (
        422,
        "通知地址不是有效的网址：{detail_zh}。请填写完整的 http:// 或 https:// 地址。",
        "The notification URL is not valid: {detail_en}. Enter a full http:// or https:// URL.",
    ),
    "notify_url_scheme": (
        422,
        "通知地址只能以 http:// 或 https:// 开头（收到「{scheme}」）。",
        "The notification URL must start with http:// or https:// (got '{scheme}').",
    ),
    "notify_url_credentials": (
        422,
        "通知地址中不能包含用户名或密码（user:pass@）；签名 Webhook 请使用系统生成的密钥。",
        "The notification URL must not contain a user name or password (user:pass@); "
        "signed webhooks use the secret the system generates.",
    ),
    "notify_recipients_invalid": (
        422,
        "收件人不正确：{detail_zh}。请填写 1–{limit} 个邮箱地址，用逗号分隔。",
        "The recipients are not valid: {detail_en}. Enter 1–{limit} e-mail addresses, "
        "separated by commas.",
    ),
    "notify_topics_invalid": (
        422,
        "请至少选择一个要接收的通知主题（未知主题：{unknown}）。",
        "Choose at least one notification topic to receive (unknown topics: {unknown}).",
    ),
    "notify_endpoint_has_pending": (
        409,
        "该通知端点还有 {count} 条待发送消息。勾选「转入死信」后再删除（它们不会再发送，"
        "仍可在死信列表查看），或等它们发送完毕。",
        "This endpoint still has {count} pending message(s). Tick 'move them to the dead "
        "letters' to delete it anyway (they will not be sent; they stay listed as dead "
        "letters), or wait until they are delivered.",
    ),
    "notify_endpoint_inactive": (
        409,
        "通知端点「{name}」已停用，请先启用再{doing_zh}。",
        "The endpoint '{name}' is switched off; switch it on before {doing_en}.",
    ),
    "customer_erased": (
        409,
        "该客户的个人信息已按其要求删除，不能再为其新建售后单。",
        "This customer's personal data was erased at their request; no new case can be "
        "opened for them.",
    ),
}


class ShouhouError(Exception):
    """A business error with a stable code; safe to show to the user."""

    def __init__(self, code: str, **params: Any) -> None:
        if code not in CATALOG:
            raise KeyError(f"unknown error code {code!r}")
        self.code = code
        self.params = params
        super().__init__(self.message("en"))

    @property
    def status(self) -> int:
        return CATALOG[self.code][0]

    def message(self, lang: str = "zh-hans") -> str:
        _, zh, en = CATALOG[self.code]
        template = en if lang.startswith("en") else zh
        try:
            return template.format_map(_Params(self.params))
        except (KeyError, IndexError, ValueError):
            return template

    def as_dict(self, lang: str = "zh-hans") -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message(lang),
            "details": {k: _jsonable(v) for k, v in self.params.items()},
        }


ROLE_LABELS = {
    "buyer": "买家",
    "agent": "客服",
    "warehouse": "仓库",
    "finance": "财务",
    "admin": "店长",
    "arbiter": "平台小二",
    "system": "系统",
    "integration": "系统对接",
}


class _Params(dict):
    """Fills derived labels (role_label) and never leaves a raw {placeholder} in a message."""

    def __missing__(self, key: str) -> str:
        if key == "role_label":
            return ROLE_LABELS.get(str(self.get("role", "")), str(self.get("role", "")))
        return ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
