"""The demo shop: 悦享生活旗舰店 (own-platform mode) and a small second shop, 简约家居小店.

Everything is made the way production makes it: orders through `orders.services.upsert_order`,
cases through the case services acted out by buyers, agents, the warehouse, finance and the
platform arbiter, and timeouts through the real deadline sweep. No status is ever written
directly. Each case follows a *story* (a recipe of actions); the stories are placed in the
past with `clock.frozen`, so timelines, deadlines and ratings carry believable times, and
the cases that are still open have deadlines ahead of "now" — except the ones whose story
is to be caught by the sweep at the end (auto-agree on timeout, return overdue, …).

A seeded `random.Random` drives every choice, so two builds produce the same shop.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from shouhou.assistant import chat, retrieval
from shouhou.assistant.models import CannedReply, Conversation
from shouhou.cases import lifecycle as lc
from shouhou.cases import services
from shouhou.cases.actors import Actor
from shouhou.cases.deadlines import sweep
from shouhou.cases.models import Case, ReturnAddress
from shouhou.cases.policies import update_policy
from shouhou.catalog.models import Product, Sku, Supplier
from shouhou.core import clock
from shouhou.core.errors import ShouhouError
from shouhou.core.models import ApiKey, Platform, Role, Shop, ShopMode, StaffMember
from shouhou.orders.models import (
    Channel,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentDirection,
)
from shouhou.orders.services import CustomerData, LineData, OrderData, upsert_order
from shouhou.rules.services import install_templates, set_template_enabled

MAIN_CODE = "yuexiang"
SECOND_CODE = "jianyue"
DEMO_EMAIL_DOMAIN = "demo.shouhou.local"  # marks the accounts the demo created (for --reset)
DEFAULT_ORDERS = 520
DEFAULT_SEED = 20261111
FINANCE_LIMIT_FEN = 100_000  # refunds above ¥1,000 need finance approval
CREDENTIALS_FILE = "demo-credentials.txt"
S = lc.Status

# --- accounts -----------------------------------------------------------------------------
# (username, password, role or None for the superuser, display name, shops)
ACCOUNTS = [
    ("admin", "shouhou-admin", None, "超级管理员", ()),
    ("shopadmin", "shouhou-shopadmin", Role.ADMIN, "店长 林悦", (MAIN_CODE,)),
    ("agent", "shouhou-agent", Role.AGENT, "客服 小美", (MAIN_CODE,)),
    ("agent2", "shouhou-agent", Role.AGENT, "客服 阿杰", (MAIN_CODE,)),
    ("warehouse", "shouhou-warehouse", Role.WAREHOUSE, "仓库 老周", (MAIN_CODE,)),
    ("finance", "shouhou-finance", Role.FINANCE, "财务 陈会计", (MAIN_CODE,)),
    ("arbiter", "shouhou-arbiter", Role.ARBITER, "平台小二 阿诚", (MAIN_CODE, SECOND_CODE)),
    ("jy_admin", "shouhou-jy-admin", Role.ADMIN, "店长 简一", (SECOND_CODE,)),
    ("jy_agent", "shouhou-jy-agent", Role.AGENT, "客服 简二", (SECOND_CODE,)),
]

# --- catalogue ----------------------------------------------------------------------------
SUPPLIERS = {
    "kitchen": ("永康市厨美炊具有限公司", "章经理 0579-87120001"),
    "clothing": ("杭州织锦服饰有限公司", "李经理 0571-86010022"),
    "electronics": ("深圳声悦电子科技有限公司", "黄经理 0755-26030033"),
    "home": ("南通梦居家纺有限公司", "顾经理 0513-85050044"),
}
# (product id, name, category, supplier, [(sku suffix, spec, price in fen)])
PRODUCTS = [
    (
        "P1001",
        "麦饭石不粘炒锅",
        "厨具",
        "kitchen",
        [("30", "30cm 无盖", 12900), ("32", "32cm 带盖", 15900)],
    ),
    (
        "P1002",
        "304不锈钢保温杯 500ml",
        "厨具",
        "kitchen",
        [("BK", "曜石黑", 8900), ("PK", "樱花粉", 8900), ("BL", "雾霾蓝", 9900)],
    ),
    (
        "P1003",
        "日式陶瓷餐具套装",
        "厨具",
        "kitchen",
        [("10", "10件套", 19900), ("16", "16件套", 29900)],
    ),
    ("P1004", "家用多功能电饭煲 4L", "小家电", "electronics", [("4L", "4L 标准款", 39900)]),
    (
        "P2001",
        "新疆长绒棉短袖T恤",
        "服装",
        "clothing",
        [("WM", "白色 M", 7900), ("WL", "白色 L", 7900), ("BXL", "黑色 XL", 7900)],
    ),
    (
        "P2002",
        "轻薄白鸭绒羽绒服",
        "服装",
        "clothing",
        [("NM", "藏青 M", 69900), ("NL", "藏青 L", 69900), ("CM", "米白 M", 69900)],
    ),
    ("P2003", "高腰直筒牛仔裤", "服装", "clothing", [("26", "26码", 15900), ("28", "28码", 15900)]),
    ("P2004", "运动速干袜 5双装", "服装", "clothing", [("F", "均码", 3990)]),
    (
        "P3001",
        "主动降噪蓝牙耳机",
        "数码",
        "electronics",
        [("BK", "星空黑", 49900), ("WH", "珍珠白", 49900)],
    ),
    ("P3002", "便携式无线榨汁杯", "小家电", "electronics", [("300", "300ml", 12900)]),
    (
        "P3003",
        "声波电动牙刷",
        "小家电",
        "electronics",
        [("STD", "标准版", 19900), ("GIFT", "礼盒版", 25900)],
    ),
    ("P3004", "扫地机器人 S7", "小家电", "electronics", [("STD", "标准版", 159900)]),
    ("P4001", "泰国天然乳胶枕", "家纺", "home", [("STD", "标准款", 16900)]),
    (
        "P4002",
        "60支长绒棉四件套",
        "家纺",
        "home",
        [("150", "1.5m 床", 39900), ("180", "1.8m 床", 45900)],
    ),
    ("P4003", "记忆棉坐垫", "家纺", "home", [("GY", "灰色", 5900)]),
]
SECOND_SUPPLIER = ("义乌简约家居用品厂", "简厂长 0579-85200055")
SECOND_PRODUCTS = [
    ("J101", "北欧陶瓷花瓶", "家居", [("S", "小号", 5900), ("L", "大号", 8900)]),
    ("J102", "棉麻收纳筐", "家居", [("M", "中号", 3900)]),
    ("J103", "实木砧板", "厨具", [("STD", "标准款", 6900)]),
]
REPAIRABLE = {"P1004", "P3001", "P3002", "P3003", "P3004"}
EXPENSIVE = {"P3004"}

# --- people and places --------------------------------------------------------------------
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵"
)
GIVEN = (
    "伟 芳 娜 秀英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英 子涵 浩然 欣怡 "
    "梓萱 宇轩 诗涵 一诺 思远 雨桐 俊杰 佳怡 晨曦 文博 嘉怡 子轩 若曦 昊天 婉清 志强 海燕 建华 "
    "丽娟 春梅 晓东 玉兰 国强 慧敏 雅琪 天宇 梦瑶 家豪"
).split()
NICK_A = (
    "爱吃 快乐的 安静的 小小 阳光 追风的 会飞的 温柔的 努力的 慢吞吞的 爱笑的 不吃香菜的".split()
)
NICK_B = "小鱼 橘子 猫咪 兔子 团子 星星 麦兜 奶茶 柠檬 少年 汤圆 布丁 土豆 熊猫".split()
PHONE_PREFIXES = (
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 "
    "173 176 177 178 180 181 182 183 185 186 187 188 189 191 198 199"
).split()
REGIONS = [
    (
        "浙江省",
        "杭州市",
        ["西湖区", "余杭区", "滨江区", "拱墅区"],
        ["文三路", "学院路", "江南大道", "莫干山路", "五常大道"],
    ),
    (
        "上海市",
        "上海市",
        ["浦东新区", "徐汇区", "闵行区", "静安区"],
        ["张江路", "漕溪北路", "七莘路", "南京西路"],
    ),
    (
        "北京市",
        "北京市",
        ["朝阳区", "海淀区", "丰台区", "通州区"],
        ["建国路", "中关村大街", "丰台北路", "新华大街"],
    ),
    (
        "广东省",
        "广州市",
        ["天河区", "越秀区", "番禺区"],
        ["天河路", "中山五路", "市桥大道", "体育西路"],
    ),
    (
        "广东省",
        "深圳市",
        ["南山区", "福田区", "龙华区"],
        ["科技园路", "深南大道", "民治大道", "福华路"],
    ),
    ("江苏省", "南京市", ["鼓楼区", "江宁区", "玄武区"], ["中山北路", "双龙大道", "珠江路"]),
    ("江苏省", "苏州市", ["姑苏区", "吴中区", "相城区"], ["干将路", "东吴北路", "阳澄湖大道"]),
    ("四川省", "成都市", ["武侯区", "锦江区", "青羊区"], ["人民南路", "春熙路", "蜀都大道"]),
    ("湖北省", "武汉市", ["洪山区", "江汉区", "武昌区"], ["珞喻路", "解放大道", "中北路"]),
    ("山东省", "青岛市", ["市南区", "崂山区", "黄岛区"], ["香港中路", "海尔路", "长江中路"]),
    ("福建省", "厦门市", ["思明区", "湖里区"], ["湖滨南路", "嘉禾路"]),
    ("陕西省", "西安市", ["雁塔区", "碑林区"], ["小寨东路", "南大街"]),
    ("湖南省", "长沙市", ["岳麓区", "天心区"], ["麓山南路", "芙蓉中路"]),
    ("重庆市", "重庆市", ["渝中区", "江北区"], ["民族路", "建新北路"]),
]
COMMUNITIES = (
    "阳光花园 锦绣苑 翠湖小区 金色家园 幸福里 怡景湾 书香门第 绿城桂花园 和平新村 滨江花城".split()
)
CARRIERS = [
    ("顺丰速运", "SF", 12),
    ("中通快递", "ZT", 12),
    ("圆通速递", "YT", 13),
    ("韵达快递", "YD", 13),
    ("京东物流", "JDV", 12),
]

DESCRIPTIONS = {
    "quality": [
        "用了两次锅底涂层就起皮了",
        "右耳没有声音，充电也充不进去",
        "洗了一次就严重起球",
        "倒进热水两小时就凉了，不保温",
    ],
    "damaged": [
        "快递外箱压坏，收到时已经摔碎",
        "包装破损，商品表面有明显划痕",
        "收到时配件断了一截",
    ],
    "wrong_size": ["平时穿 M 码，这件 M 码明显偏小", "裤长太长，想换小一码", "尺码偏大一号"],
    "wrong_or_missing": ["买的是黑色发成了白色", "套装少发了两个碗", "订单里的赠品没收到"],
    "not_as_described": [
        "实物颜色和详情页图片差别很大",
        "宣传是长绒棉，摸起来很粗糙",
        "标称降噪，实际几乎没有效果",
    ],
    "not_received": ["物流一直停在中转站，五天没有更新", "显示已签收但我没有收到"],
    "slow_delivery": ["说好 48 小时发货，一周了才到", "物流太慢，已经不需要了"],
    "changed_mind_unshipped": [
        "拍错了规格，还没发货请帮忙退款",
        "不想要了，麻烦取消",
        "家里已经买了同款",
    ],
    "price_change": ["刚买三天就降价了，申请价保", "同款活动价比我买的便宜不少"],
    "no_reason_7d": ["不太喜欢，七天无理由退货", "颜色不喜欢", "买多了一件"],
    "other": ["送人的礼物对方不需要了", "其他原因，详见聊天记录"],
}
TEXTS = {
    "reject": [
        "商品已拆封使用，影响二次销售",
        "经核实物流已正常签收，请核对家人或驿站代收",
        "照片中的痕迹为正常使用磨损",
        "价保申请超出活动规则范围",
    ],
    "fail_inspection": [
        "退回商品缺少配件（充电盒）",
        "退回商品有明显使用痕迹且吊牌已剪",
        "退回商品与订单商品不一致",
    ],
    "escalate": [
        "商家拒绝不合理，我有开箱视频",
        "商品确实有质量问题，请平台介入",
        "商家一直不回复，申请平台介入",
    ],
    "rule_for_buyer": [
        "买家开箱视频可证明到货即损坏，支持买家",
        "商家未能提供有效的验货凭证，支持买家",
    ],
    "rule_for_shop": [
        "商家验货照片显示商品已使用，且超出无理由退货条件",
        "物流签收凭证有效，买家未提供未收到货的证据",
    ],
    "cancel": ["问题已解决，撤销申请", "和客服协商好了", "不想退了"],
    "modify": ["补充了照片和说明，重新申请", "修改了退款原因，请再看一下"],
    "decline": ["部分退款金额太少，还是想全额退款", "不接受这个方案"],
    "propose": ["给您部分退款作为补偿，商品无需退回", "为您补寄缺少的配件", "为您换一件新的"],
    "dismiss": ["申请信息不完整且与订单不符", "重复提交的申请"],
    "reopen": ["问题没有解决，重新申请", "之前撤销错了，重新提交"],
    "rate": ["客服态度很好，处理很快", "退款速度快，好评", "等得有点久，但结果满意", "换货很顺利"],
    "note": ["已电话联系买家确认问题", "VIP 客户，优先处理", "需要仓库核对出库照片"],
}

# --- stories ------------------------------------------------------------------------------
Step = tuple  # (role, action, options dict)


@dataclass(frozen=True)
class Recipe:
    name: str
    type: str
    steps: tuple[Step, ...]
    final: str  # the status the story ends in (after the sweep, for sweep stories)
    weight: float = 1.0
    order: str = "delivered"  # delivered | shipped (not received) | paid (not shipped)
    reasons: tuple[str, ...] = ()  # empty: any reason the type allows on this kind of order
    sits_in: str = ""  # sweep stories: the status whose deadline the sweep acts on
    expensive: bool = False  # the claimed line is above the finance approval limit


def _r(name, type, steps, final, weight=1.0, **kw) -> Recipe:
    return Recipe(
        name,
        type,
        tuple((s[0], s[1], s[2] if len(s) > 2 else {}) for s in steps),
        final,
        weight,
        **kw,
    )


AGREE = ("agent", "agree")
REJECT = ("agent", "reject")
REFUNDED = ("finance", "confirm_refund")
SHIP_BACK = ("buyer", "ship_return")
RECEIVED = ("warehouse", "confirm_receipt")
SHIP_NEW = ("warehouse", "ship_replacement")
DELIVERED = ("buyer", "confirm_delivery")
ESCALATE = ("buyer", "escalate")
CANCEL = ("buyer", "cancel")
ACCEPT = ("buyer", "accept_proposal")
PARTIAL = ("agent", "propose", {"kind": "partial_refund"})

MAIN_RECIPES = [
    # 仅退款 refund only
    _r("ro_waiting", "refund_only", [], S.AWAITING_MERCHANT, 6),
    _r("ro_waiting_unshipped", "refund_only", [], S.AWAITING_MERCHANT, 3, order="paid"),
    _r(
        "ro_timeout_unshipped",
        "refund_only",
        [],
        S.REFUNDING,
        2,
        order="paid",
        sits_in=S.AWAITING_MERCHANT,
    ),
    _r("ro_timeout", "refund_only", [], S.REFUNDING, 2, sits_in=S.AWAITING_MERCHANT),
    _r("ro_refunding", "refund_only", [AGREE], S.REFUNDING, 4),
    _r("ro_completed", "refund_only", [AGREE, REFUNDED], S.COMPLETED, 14),
    _r("ro_completed_unshipped", "refund_only", [AGREE, REFUNDED], S.COMPLETED, 4, order="paid"),
    _r(
        "ro_not_received",
        "refund_only",
        [AGREE, REFUNDED],
        S.COMPLETED,
        1,
        order="shipped",
        reasons=("not_received",),
    ),
    _r("ro_rejected", "refund_only", [REJECT], S.REJECTED, 3),
    _r("ro_arbitration", "refund_only", [REJECT, ESCALATE], S.IN_ARBITRATION, 2),
    _r(
        "ro_ruled_for_shop",
        "refund_only",
        [REJECT, ESCALATE, ("arbiter", "rule_for_shop")],
        S.CLOSED,
        2,
    ),
    _r(
        "ro_ruled_for_buyer",
        "refund_only",
        [REJECT, ESCALATE, ("arbiter", "rule_for_buyer"), REFUNDED],
        S.COMPLETED,
        2,
    ),
    _r("ro_cancelled", "refund_only", [CANCEL], S.CLOSED, 3),
    _r("ro_proposal", "refund_only", [PARTIAL], S.PROPOSAL_PENDING, 2),
    _r("ro_partial_refund", "refund_only", [PARTIAL, ACCEPT, REFUNDED], S.COMPLETED, 3),
    _r(
        "ro_coupon",
        "refund_only",
        [("agent", "propose", {"kind": "coupon"}), ACCEPT],
        S.COMPLETED,
        2,
    ),
    _r(
        "ro_proposal_declined",
        "refund_only",
        [PARTIAL, ("buyer", "decline_proposal")],
        S.AWAITING_MERCHANT,
        1,
    ),
    _r(
        "ro_proposal_expired",
        "refund_only",
        [PARTIAL],
        S.AWAITING_MERCHANT,
        1,
        sits_in=S.PROPOSAL_PENDING,
    ),
    _r("ro_modified", "refund_only", [REJECT, ("buyer", "modify")], S.AWAITING_MERCHANT, 1),
    _r("ro_rejected_overdue", "refund_only", [REJECT], S.CLOSED, 1, sits_in=S.REJECTED),
    _r(
        "ro_awaiting_finance",
        "refund_only",
        [("agent", "agree", {"no_finance": True})],
        S.AWAITING_MERCHANT,
        1,
        expensive=True,
    ),
    _r(
        "ro_reship_proposal",
        "refund_only",
        [("agent", "propose", {"kind": "reship"}), ACCEPT],
        S.AWAITING_MERCHANT_SHIPMENT,
        1,
        reasons=("wrong_or_missing",),
    ),
    # 退货退款 return and refund
    _r("rr_waiting", "return_refund", [], S.AWAITING_MERCHANT, 4),
    _r("rr_awaiting_return", "return_refund", [AGREE], S.AWAITING_BUYER_RETURN, 4),
    _r("rr_in_transit", "return_refund", [AGREE, SHIP_BACK], S.AWAITING_MERCHANT_RECEIPT, 4),
    _r("rr_refunding", "return_refund", [AGREE, SHIP_BACK, RECEIVED], S.REFUNDING, 2),
    _r("rr_completed", "return_refund", [AGREE, SHIP_BACK, RECEIVED, REFUNDED], S.COMPLETED, 12),
    _r(
        "rr_big_completed",
        "return_refund",
        [AGREE, SHIP_BACK, RECEIVED, REFUNDED],
        S.COMPLETED,
        1,
        expensive=True,
    ),
    _r(
        "rr_failed_inspection",
        "return_refund",
        [AGREE, SHIP_BACK, ("warehouse", "fail_inspection")],
        S.REJECTED,
        2,
    ),
    _r(
        "rr_failed_escalated",
        "return_refund",
        [AGREE, SHIP_BACK, ("warehouse", "fail_inspection"), ESCALATE],
        S.IN_ARBITRATION,
        1,
    ),
    _r("rr_return_overdue", "return_refund", [AGREE], S.CLOSED, 1, sits_in=S.AWAITING_BUYER_RETURN),
    _r(
        "rr_receipt_timeout",
        "return_refund",
        [AGREE, SHIP_BACK],
        S.REFUNDING,
        1,
        sits_in=S.AWAITING_MERCHANT_RECEIPT,
    ),
    _r("rr_cancelled", "return_refund", [AGREE, CANCEL], S.CLOSED, 2),
    _r(
        "rr_reopened", "return_refund", [AGREE, CANCEL, ("buyer", "reopen")], S.AWAITING_MERCHANT, 1
    ),
    _r(
        "rr_exchange_proposal",
        "return_refund",
        [("agent", "propose", {"kind": "exchange"}), ACCEPT, SHIP_BACK],
        S.AWAITING_MERCHANT_RECEIPT,
        1,
    ),
    _r("rr_timeout", "return_refund", [], S.AWAITING_BUYER_RETURN, 1, sits_in=S.AWAITING_MERCHANT),
    # 换货 exchange
    _r("ex_waiting", "exchange", [], S.AWAITING_MERCHANT, 2),
    _r("ex_awaiting_return", "exchange", [AGREE], S.AWAITING_BUYER_RETURN, 2),
    _r("ex_in_transit", "exchange", [AGREE, SHIP_BACK], S.AWAITING_MERCHANT_RECEIPT, 2),
    _r("ex_to_ship", "exchange", [AGREE, SHIP_BACK, RECEIVED], S.AWAITING_MERCHANT_SHIPMENT, 2),
    _r(
        "ex_shipped",
        "exchange",
        [AGREE, SHIP_BACK, RECEIVED, SHIP_NEW],
        S.AWAITING_BUYER_RECEIPT,
        2,
    ),
    _r(
        "ex_completed",
        "exchange",
        [AGREE, SHIP_BACK, RECEIVED, SHIP_NEW, DELIVERED],
        S.COMPLETED,
        5,
    ),
    _r(
        "ex_ship_overdue",
        "exchange",
        [AGREE, SHIP_BACK, RECEIVED],
        S.AWAITING_MERCHANT_SHIPMENT,
        1,
        sits_in=S.AWAITING_MERCHANT_SHIPMENT,
    ),
    _r(
        "ex_delivery_timeout",
        "exchange",
        [AGREE, SHIP_BACK, RECEIVED, SHIP_NEW],
        S.COMPLETED,
        1,
        sits_in=S.AWAITING_BUYER_RECEIPT,
    ),
    _r("ex_rejected", "exchange", [REJECT], S.REJECTED, 1),
    # 维修 repair
    _r("rp_waiting", "repair", [], S.AWAITING_MERCHANT, 1),
    _r("rp_awaiting_return", "repair", [AGREE], S.AWAITING_BUYER_RETURN, 1),
    _r("rp_in_transit", "repair", [AGREE, SHIP_BACK], S.AWAITING_MERCHANT_RECEIPT, 1),
    _r("rp_repairing", "repair", [AGREE, SHIP_BACK, RECEIVED], S.AWAITING_MERCHANT_SHIPMENT, 1),
    _r("rp_shipped", "repair", [AGREE, SHIP_BACK, RECEIVED, SHIP_NEW], S.AWAITING_BUYER_RECEIPT, 1),
    _r("rp_completed", "repair", [AGREE, SHIP_BACK, RECEIVED, SHIP_NEW, DELIVERED], S.COMPLETED, 2),
    # 补寄 reship
    _r("rs_waiting", "reship", [], S.AWAITING_MERCHANT, 1),
    _r("rs_to_ship", "reship", [AGREE], S.AWAITING_MERCHANT_SHIPMENT, 2),
    _r("rs_shipped", "reship", [AGREE, SHIP_NEW], S.AWAITING_BUYER_RECEIPT, 2),
    _r("rs_completed", "reship", [AGREE, SHIP_NEW, DELIVERED], S.COMPLETED, 4),
    _r(
        "rs_not_received",
        "reship",
        [AGREE, SHIP_NEW],
        S.AWAITING_BUYER_RECEIPT,
        1,
        order="shipped",
        reasons=("not_received",),
    ),
    # 退差价/价保 price protection
    _r("pp_waiting", "price_protect", [], S.AWAITING_MERCHANT, 1),
    _r("pp_refunding", "price_protect", [AGREE], S.REFUNDING, 1),
    _r("pp_completed", "price_protect", [AGREE, REFUNDED], S.COMPLETED, 3),
    _r("pp_rejected", "price_protect", [REJECT], S.REJECTED, 1),
    _r("pp_cancelled", "price_protect", [CANCEL], S.CLOSED, 1),
]
# The small shop has platform review switched on (待审核 first).
SECOND_RECIPES = [
    _r("sub_waiting", "refund_only", [], S.SUBMITTED, 3),
    _r("sub_passed", "return_refund", [("arbiter", "pass_review")], S.AWAITING_MERCHANT, 1),
    _r(
        "sub_completed",
        "refund_only",
        [("arbiter", "pass_review"), AGREE, ("admin", "confirm_refund")],
        S.COMPLETED,
        2,
    ),
    _r("sub_dismissed", "refund_only", [("arbiter", "dismiss")], S.CLOSED, 1),
    _r("sub_review_timeout", "refund_only", [], S.AWAITING_MERCHANT, 1, sits_in=S.SUBMITTED),
]
SECOND_ORDERS = 30

# Hours between one step and the next, by the action taken: always well inside the deadline
# of the status the case waits in, so no person acts after their deadline.
GAPS = {
    "assign": (0.1, 1),
    "note": (0.2, 3),
    "agree": (0.5, 18),
    "reject": (1, 18),
    "propose": (1, 18),
    "accept_proposal": (1, 40),
    "decline_proposal": (1, 40),
    "ship_return": (6, 60),
    "confirm_receipt": (30, 100),
    "fail_inspection": (30, 100),
    "ship_replacement": (4, 36),
    "confirm_delivery": (30, 120),
    "confirm_refund": (0.5, 12),
    "modify": (2, 60),
    "escalate": (2, 60),
    "rule_for_buyer": (10, 90),
    "rule_for_shop": (10, 90),
    "cancel": (0.5, 30),
    "reopen": (10, 60),
    "pass_review": (1, 30),
    "dismiss": (1, 30),
    "rate": (2, 72),
}
TERMINAL_MAX_DAYS = 45


# --- results ------------------------------------------------------------------------------
@dataclass
class DemoResult:
    skipped: str = ""
    shops: list[str] = field(default_factory=list)
    orders: int = 0
    cases: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_type: Counter = field(default_factory=Counter)
    order_statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # stories a service refused
    mismatches: list[str] = field(default_factory=list)  # stories that ended elsewhere
    sweep_applied: int = 0
    conversations: int = 0
    api_key: str = ""
    credentials_path: Path | None = None
    seconds: float = 0.0


def demo_exists() -> bool:
    return Shop.objects.filter(code=MAIN_CODE).exists()


def remove_demo() -> None:
    from shouhou.cases.models import RefundInstruction
    from shouhou.customers.models import Customer
    from shouhou.orders.models import Order

    with transaction.atomic():
        for shop in Shop.objects.filter(code__in=[MAIN_CODE, SECOND_CODE]):
            # Refunds, cases and orders are PROTECTed from cascades (money and history
            # must not vanish by accident), so the demo removes them explicitly, in order.
            RefundInstruction.objects.filter(shop=shop).delete()
            Conversation.objects.filter(shop=shop).delete()  # they PROTECT their customers
            Case.objects.filter(shop=shop).delete()
            Order.objects.filter(shop=shop).delete()
            Customer.objects.filter(shop=shop).delete()
            shop.delete()
        get_user_model().objects.filter(email__endswith="@" + DEMO_EMAIL_DOMAIN).delete()
    clock.invalidate()


def credentials_path() -> Path:
    return Path(settings.DATA_DIR) / CREDENTIALS_FILE


def build_demo(
    *,
    orders: int = DEFAULT_ORDERS,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    if_empty: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
) -> DemoResult:
    """Build the demo shops; do nothing when they exist (unless reset)."""
    started = time.perf_counter()
    if reset:
        log("删除旧的演示数据 removing the previous demo …")
        remove_demo()
    if demo_exists():
        return DemoResult(
            skipped="演示店铺已存在，未做任何改动 the demo shop already exists; nothing done"
        )
    if if_empty and Shop.objects.exists():
        return DemoResult(
            skipped="数据库里已有店铺，不载入演示 shops exist already; demo not loaded"
        )
    builder = _Builder(random.Random(seed), clock.now(), log)
    with transaction.atomic():
        result = builder.build(orders)
    result.credentials_path = _write_credentials(result.api_key, _buyer_samples())
    result.seconds = time.perf_counter() - started
    return result


# --- the builder --------------------------------------------------------------------------
@dataclass
class _ShopCtx:
    shop: Shop
    prefix: str
    skus: list[Sku]
    product_of: dict[int, str]  # sku id → product external id
    staff: dict[str, StaffMember]  # role → the member who acts in that role
    agents: list[StaffMember]
    recipes: list[Recipe]


@dataclass
class _Story:
    ctx: _ShopCtx
    recipe: Recipe
    reason: str
    channel: str
    opened_at: datetime
    gaps: list[float]  # hours before each step
    steps: list[Step]
    claim_sku: Sku
    claim_qty: int
    order_qty: int
    spec: dict  # the order to make for this story
    order_no: str = ""


class _Builder:
    def __init__(self, rng: random.Random, now: datetime, log: Callable[[str], None]) -> None:
        self.rng = rng
        self.now = now
        self.log = log
        self.customers: dict[str, list[CustomerData]] = {}

    # shops, staff, catalogue ------------------------------------------------------------
    def build(self, orders: int) -> DemoResult:
        result = DemoResult()
        users = self._accounts()
        main = self._shop(
            MAIN_CODE,
            "悦享生活旗舰店",
            "YX",
            users,
            MAIN_RECIPES,
            review=False,
            address=(
                "悦享生活华东仓",
                "周建国",
                "13857120086",
                "浙江省杭州市余杭区仓前街道良睦路 1399 号 悦享生活华东仓 3 号库",
            ),
        )
        second = self._shop(
            SECOND_CODE,
            "简约家居小店",
            "JY",
            users,
            SECOND_RECIPES,
            review=True,
            address=(
                "义乌仓",
                "简一",
                "13967900123",
                "浙江省金华市义乌市福田街道商城大道 88 号 5 楼",
            ),
        )
        self._catalogue(main, second)
        update_policy(main.shop, finance_approval_limit_fen=FINANCE_LIMIT_FEN)
        update_policy(second.shop, finance_approval_limit_fen=FINANCE_LIMIT_FEN)
        for ctx in (main, second):
            install_templates(ctx.shop)
            set_template_enabled(ctx.shop, "vip_priority", True)
            _seed_knowledge(ctx.shop)
        _, secret = ApiKey.issue(main.shop, "演示对接 demo integration")
        result.api_key = secret

        main_stories = self._plan_stories(main, max(len(MAIN_RECIPES), round(orders * 0.22)))
        second_stories = self._plan_stories(second, 8)
        self.log(f"生成订单 creating orders ({orders} + {SECOND_ORDERS}) …")
        self._orders(main, main_stories, max(orders, len(main_stories) + 10))
        self._orders(second, second_stories, SECOND_ORDERS)
        stories = sorted(main_stories + second_stories, key=lambda s: s.opened_at)
        self.log(f"演绎售后单 acting out {len(stories)} after-sales cases …")
        played = [(story, self._play(story, result)) for story in stories]
        # The cases whose story ends in a timeout: the real sweep acts on them now.
        swept = sweep()
        result.sweep_applied = swept.applied
        for story, case_id in played:
            if case_id is None:
                continue
            status = Case.objects.filter(pk=case_id).values_list("status", flat=True).first()
            if status != story.recipe.final:
                result.mismatches.append(f"{story.recipe.name}: {status} ≠ {story.recipe.final}")
        self.log("记录发货物流、演示客服会话 parcels and demo conversations …")
        for ctx in (main, second):
            _record_outbound_parcels(ctx.shop, self.rng)
        result.conversations = _seed_conversations(main, second, self.now)
        shops = [main.shop.id, second.shop.id]
        result.shops = [main.shop.name, second.shop.name]
        cases = Case.objects.filter(shop_id__in=shops)
        result.cases = cases.count()
        result.by_status = Counter(cases.values_list("status", flat=True))
        result.by_type = Counter(cases.values_list("type", flat=True))
        from shouhou.orders.models import Order

        order_qs = Order.objects.filter(shop_id__in=shops)
        result.orders = order_qs.count()
        result.order_statuses = Counter(order_qs.values_list("status", flat=True))
        return result

    def _accounts(self) -> dict[str, object]:
        User = get_user_model()
        users = {}
        for username, password, role, display, _ in ACCOUNTS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(username=username, email=f"{username}@{DEMO_EMAIL_DOMAIN}")
                user.first_name = display
                user.is_staff = True
                user.is_superuser = role is None
                user.set_password(password)
                user.save()
            users[username] = user
        return users

    def _shop(self, code, name, prefix, users, recipes, *, review, address) -> _ShopCtx:
        shop = Shop.objects.create(
            code=code,
            name=name,
            platform=Platform.OWN,
            mode=ShopMode.OWN_PLATFORM,
            review_new_cases=review,
        )
        label, contact, phone, line = address
        ReturnAddress.objects.create(
            shop=shop, label=label, contact_name=contact, phone=phone, address=line, is_default=True
        )
        staff: dict[str, StaffMember] = {}
        agents = []
        for username, _, role, display, shops in ACCOUNTS:
            if code in shops:
                member = StaffMember.objects.create(
                    shop=shop, user=users[username], role=role, display_name=display
                )
                staff.setdefault(role.value, member)
                if role == Role.AGENT:
                    agents.append(member)
        return _ShopCtx(shop, prefix, [], {}, staff, agents, recipes)

    def _catalogue(self, main: _ShopCtx, second: _ShopCtx) -> None:
        suppliers = {
            key: Supplier.objects.create(shop=main.shop, name=name, contact=contact)
            for key, (name, contact) in SUPPLIERS.items()
        }
        for pid, name, category, supplier, skus in PRODUCTS:
            self._product(main, suppliers[supplier], pid, name, category, skus)
        supplier = Supplier.objects.create(
            shop=second.shop, name=SECOND_SUPPLIER[0], contact=SECOND_SUPPLIER[1]
        )
        for pid, name, category, skus in SECOND_PRODUCTS:
            self._product(second, supplier, pid, name, category, skus)

    def _product(self, ctx, supplier, pid, name, category, skus) -> None:
        product = Product.objects.create(
            shop=ctx.shop, supplier=supplier, external_id=pid, name=name, category=category
        )
        for suffix, spec, price in skus:
            sku = Sku.objects.create(
                shop=ctx.shop, product=product, code=f"{pid}-{suffix}", spec=spec, price_fen=price
            )
            sku.product = product
            ctx.skus.append(sku)
            ctx.product_of[sku.id] = pid

    # people ---------------------------------------------------------------------------
    def _person(self, ctx: _ShopCtx) -> CustomerData:
        rng = self.rng
        pool = self.customers.setdefault(ctx.shop.code, [])
        if pool and rng.random() < 0.3:
            return rng.choice(pool)  # a returning buyer
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        phone = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        province, city, districts, streets = rng.choice(REGIONS)
        address = (
            f"{province}{'' if city == province else city}{rng.choice(districts)}"
            f"{rng.choice(streets)} {rng.randint(1, 999)} 号 {rng.choice(COMMUNITIES)}"
            f" {rng.randint(1, 30)} 幢 {rng.randint(1, 3)} 单元 {rng.randint(1, 32)}{rng.randint(1, 4):02d} 室"
        )
        tier = rng.choices(["regular", "silver", "gold", "vip"], [70, 15, 10, 5])[0]
        person = CustomerData(
            external_id=f"{ctx.prefix.lower()}_u{100001 + len(pool)}",
            nickname=rng.choice(NICK_A) + rng.choice(NICK_B),
            name=name,
            phone=phone,
            address=address,
            tier=tier,
        )
        pool.append(person)
        return person

    # planning -------------------------------------------------------------------------
    def _plan_stories(self, ctx: _ShopCtx, count: int) -> list[_Story]:
        recipes = list(ctx.recipes)  # every recipe at least once …
        weights = [r.weight for r in ctx.recipes]
        recipes += self.rng.choices(ctx.recipes, weights, k=max(0, count - len(recipes)))
        return [self._plan(ctx, recipe) for recipe in recipes]

    def _plan(self, ctx: _ShopCtx, recipe: Recipe) -> _Story:
        rng = self.rng
        reason = self._reason(recipe)
        sku, qty, claim_qty = self._claim(ctx, recipe)
        steps = list(recipe.steps)
        if rng.random() < 0.5:
            steps.insert(0, ("admin", "assign", {}))
        if rng.random() < 0.15:
            steps.insert(1 if steps and steps[0][1] == "assign" else 0, ("agent", "note", {}))
        money = recipe.type in lc.MONEY_PATHS and recipe.type != "price_protect"
        if money and sku.price_fen * claim_qty > FINANCE_LIMIT_FEN:
            # An agent's agreement above the limit waits for finance, who then agrees too.
            expanded = []
            for role, action, options in steps:
                expanded.append((role, action, options))
                if action == "agree" and role == "agent" and not options.get("no_finance"):
                    expanded.append(("finance", "agree", {}))
            steps = expanded
        rateable = recipe.final == S.COMPLETED or recipe.name.endswith(
            ("cancelled", "ruled_for_shop", "dismissed")
        )
        if rateable and not recipe.sits_in and rng.random() < 0.55:
            steps.append(("buyer", "rate", {}))
        gaps = [rng.uniform(*GAPS[action]) for _, action, _ in steps]
        duration = sum(gaps)
        opened_at = self.now - timedelta(hours=self._tail(recipe, duration) + duration)
        channel = rng.choices([Channel.PORTAL, Channel.HOTLINE, Channel.CHAT], [70, 15, 15])[0]
        spec = self._order_spec_for(recipe, opened_at)
        return _Story(
            ctx, recipe, reason, channel, opened_at, gaps, steps, sku, claim_qty, qty, spec
        )

    def _reason(self, recipe: Recipe) -> str:
        if recipe.reasons:
            return self.rng.choice(recipe.reasons)
        case_type = lc.CaseType(recipe.type)
        special = {lc.Reason.NOT_RECEIVED, lc.Reason.CHANGED_MIND_UNSHIPPED}
        if recipe.order == "paid":
            return lc.Reason.CHANGED_MIND_UNSHIPPED.value
        if recipe.order == "shipped":
            return lc.Reason.NOT_RECEIVED.value
        allowed = sorted(
            r.value
            for r, types in lc.DEFAULT_REASON_TYPES.items()
            if case_type in types and r not in special
        )
        return self.rng.choice(allowed)

    def _claim(self, ctx: _ShopCtx, recipe: Recipe) -> tuple[Sku, int, int]:
        """The SKU the case is about, the quantity ordered and the quantity claimed."""
        rng = self.rng
        if recipe.expensive:
            pool = [s for s in ctx.skus if ctx.product_of[s.id] in EXPENSIVE]
        elif recipe.type == "repair":
            pool = [
                s for s in ctx.skus if ctx.product_of[s.id] in REPAIRABLE - EXPENSIVE
            ] or ctx.skus
        else:
            pool = [s for s in ctx.skus if ctx.product_of[s.id] not in EXPENSIVE]
        sku = rng.choice(pool)
        qty = 1 if sku.price_fen > 30000 else rng.choice([1, 1, 1, 2, 2, 3])
        claim = qty if rng.random() < 0.6 else 1
        return sku, qty, claim

    def _tail(self, recipe: Recipe, duration: float) -> float:
        """Hours from the story's last step to now."""
        rng = self.rng
        unshipped = recipe.order == "paid"
        if recipe.sits_in:
            # Past the deadline of the status it waits in: the sweep at the end acts on it.
            return _deadline_hours(recipe.sits_in, recipe.type, unshipped) + rng.uniform(1, 30)
        if recipe.final in lc.TERMINAL:
            # Spread finished cases over the weeks behind us, orders staying within 60 days.
            return rng.uniform(3, max(4, TERMINAL_MAX_DAYS * 24 - duration))
        # Still open: well inside its deadline, so nothing acts on it until time moves.
        hours = _deadline_hours(recipe.final, recipe.type, unshipped) or 48
        return rng.uniform(0.3, 0.7 * hours)

    def _order_spec_for(self, recipe: Recipe, opened_at: datetime) -> dict:
        rng = self.rng
        h = timedelta(hours=1)
        if recipe.order == "paid":
            paid = opened_at - rng.uniform(0.3, 6) * h
            return {"status": OrderStatus.PAID, "paid": paid}
        if recipe.order == "shipped":
            shipped = opened_at - rng.uniform(3, 6) * 24 * h
            paid = shipped - rng.uniform(3, 30) * h
            return {"status": OrderStatus.SHIPPED, "paid": paid, "shipped": shipped}
        max_days = 5.5 if recipe.type != "price_protect" else 6
        delivered = opened_at - rng.uniform(0.2, max_days) * 24 * h
        shipped = delivered - rng.uniform(1, 3) * 24 * h
        paid = shipped - rng.uniform(3, 30) * h
        return {
            "status": OrderStatus.COMPLETED
            if self.now - delivered > timedelta(days=10)
            else OrderStatus.DELIVERED,
            "paid": paid,
            "shipped": shipped,
            "delivered": delivered,
        }

    def _plain_spec(self, ctx: _ShopCtx, sale_day: datetime | None) -> dict:
        rng = self.rng
        h = timedelta(hours=1)
        if sale_day is not None and rng.random() < 0.2:
            placed = sale_day + rng.uniform(0, 24) * h  # 大促 a sales festival's peak
        else:
            placed = self.now - rng.uniform(0.02, 60) * 24 * h
        if self.now - placed < 36 * h and rng.random() < 0.35:
            return {"status": OrderStatus.UNPAID, "placed": placed}
        paid = placed + rng.uniform(1, 20) * timedelta(minutes=1)
        if rng.random() < 0.04:
            return {"status": OrderStatus.CANCELLED, "placed": placed, "paid": paid}
        shipped = paid + rng.uniform(4, 30) * h
        if shipped > self.now:
            return {"status": OrderStatus.PAID, "placed": placed, "paid": paid}
        delivered = shipped + rng.uniform(1, 3.5) * 24 * h
        if delivered > self.now:
            return {
                "status": OrderStatus.SHIPPED,
                "placed": placed,
                "paid": paid,
                "shipped": shipped,
            }
        status = (
            OrderStatus.COMPLETED
            if self.now - delivered > timedelta(days=10)
            else OrderStatus.DELIVERED
        )
        return {
            "status": status,
            "placed": placed,
            "paid": paid,
            "shipped": shipped,
            "delivered": delivered,
        }

    # orders ---------------------------------------------------------------------------
    def _orders(self, ctx: _ShopCtx, stories: list[_Story], total: int) -> None:
        rng = self.rng
        sale_day = _last_double_eleven(self.now)
        specs: list[tuple[dict, _Story | None]] = [(s.spec, s) for s in stories]
        specs += [(self._plain_spec(ctx, sale_day), None) for _ in range(total - len(stories))]
        for spec, _ in specs:
            if "placed" not in spec:  # a story's order: placed a few minutes before payment
                spec["placed"] = spec["paid"] - rng.uniform(1, 30) * timedelta(minutes=1)
        specs.sort(key=lambda item: item[0]["placed"])
        for seq, (spec, story) in enumerate(specs, start=1):
            placed_local = timezone.localtime(spec["placed"])
            order_no = f"{ctx.prefix}{placed_local:%y%m%d}{seq:05d}"
            lines = []
            if story is not None:
                lines.append((story.claim_sku, story.order_qty))
            extra = (
                rng.choices([0, 1, 2], [60, 30, 10])[0]
                if story
                else rng.choices([1, 2, 3], [65, 27, 8])[0]
            )
            for _ in range(extra):
                sku = rng.choice(ctx.skus)
                if all(sku.id != s.id for s, _ in lines):
                    lines.append((sku, 1 if sku.price_fen > 30000 else rng.choice([1, 1, 2])))
            person = self._person(ctx)
            data = OrderData(
                external_id=order_no,
                customer=person,
                lines=[
                    LineData(
                        external_id=f"{order_no}-{i}",
                        title=f"{sku.product.name} {sku.spec}",
                        quantity=qty,
                        unit_price_fen=sku.price_fen,
                        # an occasional shop coupon: paid a little under list price
                        paid_fen=sku.price_fen * qty
                        - (500 if sku.price_fen > 10000 and rng.random() < 0.2 else 0),
                        sku_code=sku.code,
                    )
                    for i, (sku, qty) in enumerate(lines, start=1)
                ],
                status=spec["status"],
                channel=Channel.API,
                placed_at=spec["placed"],
                paid_at=spec.get("paid"),
                shipped_at=spec.get("shipped"),
                delivered_at=spec.get("delivered"),
                shipping_fee_fen=rng.choices([0, 800, 1000], [80, 12, 8])[0],
                has_shipping_insurance=rng.random() < 0.35,
                receiver_name=person.name,
                receiver_phone=person.phone,
                receiver_address=person.address,
            )
            upsert_order(ctx.shop, data)
            if story is not None:
                story.order_no = order_no

    # acting ---------------------------------------------------------------------------
    def _play(self, story: _Story, result: DemoResult) -> int | None:
        ctx, recipe = story.ctx, story.recipe
        from shouhou.orders.models import Order

        order = Order.objects.select_related("customer").get(
            shop=ctx.shop, external_id=story.order_no
        )
        line = OrderLine.objects.get(order=order, external_id=f"{story.order_no}-1")
        buyer = Actor(
            role=lc.ActorRole.BUYER,
            shop_id=ctx.shop.id,
            customer_id=order.customer_id,
            label=order.customer.nickname or "买家",
        )
        rng = self.rng
        refund_fen = None
        if recipe.type == "price_protect":
            share = line.paid_fen * story.claim_qty // line.quantity
            refund_fen = max(100, int(share * rng.uniform(0.05, 0.2)) // 100 * 100)
        opener = buyer if story.channel != Channel.HOTLINE else self._actor(ctx, "agent")
        case_id = None
        try:
            with transaction.atomic(), clock.frozen(story.opened_at) as frozen:
                case = services.open_case(
                    ctx.shop,
                    opener,
                    order=order,
                    type=recipe.type,
                    reason=story.reason,
                    lines=[services.LineRequest(line.id, story.claim_qty)],
                    description=rng.choice(DESCRIPTIONS[story.reason]),
                    channel=story.channel,
                    refund_fen=refund_fen,
                )
                case_id = case.id
                for gap, (role, action, options) in zip(story.gaps, story.steps, strict=True):
                    frozen.advance(timedelta(hours=gap))
                    actor = buyer if role == "buyer" else self._actor(ctx, role)
                    self._act(ctx, case_id, actor, action, options)
        except ShouhouError as exc:
            result.failures.append(f"{recipe.name}: {exc.code} {exc.message()}")
            return None
        return case_id

    def _actor(self, ctx: _ShopCtx, role: str) -> Actor:
        # A small shop has no warehouse or finance: its admin does that work.
        member = ctx.staff.get(role) or ctx.staff[Role.ADMIN.value]
        return Actor(
            role=lc.ActorRole(member.role),
            shop_id=ctx.shop.id,
            staff_id=member.id,
            label=member.display_name,
        )

    def _act(self, ctx: _ShopCtx, case_id: int, actor: Actor, action: str, options: dict) -> None:
        rng = self.rng
        text = lambda key: rng.choice(TEXTS[key])  # noqa: E731
        if action == "agree":
            services.agree(case_id, actor)
        elif action == "reject":
            services.reject(case_id, actor, reason=text("reject"))
        elif action == "propose":
            kind = options["kind"]
            refund = 0
            if kind == "partial_refund":
                case = Case.objects.get(pk=case_id)
                refund = max(100, int(case.refund_fen * rng.uniform(0.2, 0.5)) // 100 * 100)
            note = {"partial_refund": 0, "reship": 1, "exchange": 2}.get(kind)
            services.propose(
                case_id,
                actor,
                kind=kind,
                refund_fen=refund,
                note=TEXTS["propose"][note] if note is not None else "赠送 20 元无门槛优惠券",
            )
        elif action == "accept_proposal":
            services.accept_proposal(case_id, actor)
        elif action == "decline_proposal":
            services.decline_proposal(case_id, actor, reason=text("decline"))
        elif action in {"ship_return", "ship_replacement"}:
            carrier, prefix, digits = rng.choice(CARRIERS)
            tracking = prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
            getattr(services, action)(case_id, actor, carrier=carrier, tracking_no=tracking)
        elif action == "confirm_receipt":
            services.confirm_receipt(case_id, actor, note="验货通过 inspection passed")
        elif action == "fail_inspection":
            services.fail_inspection(case_id, actor, reason=text("fail_inspection"))
        elif action == "confirm_delivery":
            services.confirm_delivery(case_id, actor)
        elif action == "confirm_refund":
            services.confirm_refund(case_id, actor)
        elif action == "modify":
            services.modify(case_id, actor, description=text("modify"))
        elif action == "escalate":
            services.escalate(case_id, actor, statement=text("escalate"))
        elif action in {"rule_for_buyer", "rule_for_shop"}:
            getattr(services, action)(case_id, actor, reason=text(action))
        elif action == "cancel":
            services.cancel(case_id, actor, reason=text("cancel"))
        elif action == "reopen":
            services.reopen(case_id, actor, description=text("reopen"))
        elif action == "pass_review":
            services.pass_review(case_id, actor)
        elif action == "dismiss":
            services.dismiss(case_id, actor, reason=text("dismiss"))
        elif action == "rate":
            satisfaction = rng.choices([5, 4, 3, 2, 1], [55, 25, 10, 6, 4])[0]
            speed = max(1, min(5, satisfaction + rng.choice([-1, 0, 0, 1])))
            services.rate(
                case_id, actor, speed=speed, satisfaction=satisfaction, comment=text("rate")
            )
        elif action == "assign":
            agent = rng.choice(ctx.agents or [ctx.staff[Role.ADMIN.value]])
            services.assign(case_id, actor, staff_id=agent.id)
        elif action == "note":
            services.add_note(case_id, actor, text=text("note"), internal=True)
        else:  # pragma: no cover — a recipe typo
            raise ValueError(f"unknown demo action {action!r}")


def _deadline_hours(status: str, case_type: str, unshipped: bool) -> float:
    rule = lc.deadline_for(lc.Status(status), path=case_type, order_shipped=not unshipped)
    return rule[0].total_seconds() / 3600 if rule else 0.0


def _last_double_eleven(now: datetime) -> datetime | None:
    """Midnight of the most recent 11 November (双十一) within the last 60 days, if any."""
    local = timezone.localtime(now)
    day = local.replace(month=11, day=11, hour=0, minute=0, second=0, microsecond=0)
    if day > local:
        day = day.replace(year=day.year - 1)
    return day if local - day <= timedelta(days=58) else None


def _buyer_samples() -> list[tuple[str, Order, str]]:
    """Orders a visitor can try the buyer portal with: one with nothing open, one waiting."""
    shop = Shop.objects.get(code=MAIN_CODE)
    samples: list[tuple[str, Order, str]] = []
    fresh = (
        Order.objects.filter(shop=shop, status=OrderStatus.DELIVERED)
        .exclude(id__in=Case.objects.filter(shop=shop).values("order_id"))
        .select_related("customer")
        .order_by("-delivered_at")
        .first()
    )
    if fresh is not None:
        samples.append(("可申请售后 ready for a new request", fresh, ""))
    waiting = (
        Case.objects.filter(shop=shop, status=S.AWAITING_BUYER_RETURN)
        .select_related("order__customer")
        .order_by("deadline_at")
        .first()
    )
    if waiting is not None and waiting.order_id not in {o.id for _, o, _ in samples}:
        samples.append(("待买家退货 waiting for the buyer's return", waiting.order, waiting.number))
    return samples


def _write_credentials(api_key: str, buyers: list[tuple[str, Order, str]] = ()) -> Path:
    from shouhou.portal.links import order_link

    path = credentials_path()
    width = max(len(username) for username, *_ in ACCOUNTS)
    lines = [
        "shouhou 演示账号 demo logins",
        f"生成于 generated {timezone.localtime(timezone.now()):%Y-%m-%d %H:%M} (Asia/Shanghai)",
        "员工登录 staff log in at http://127.0.0.1:8000/login/ · API docs http://127.0.0.1:8000/api/v1/docs",
        "",
    ]
    for username, password, role, display, shops in ACCOUNTS:
        where = ", ".join(shops) if shops else "all shops (Django superuser)"
        role_text = role.value if role else "superuser"
        lines.append(f"  {username:<{width}}  {password:<20} {role_text:<10} {display} — {where}")
    lines += [
        "",
        f"API key for 悦享生活旗舰店 ({MAIN_CODE}) — shown once, store it safely:",
        f"  {api_key}",
        f'  curl -H "Authorization: Bearer {api_key}" http://127.0.0.1:8000/api/v1/cases',
        "",
        "买家门户 buyer portal — http://127.0.0.1:8000/portal/?shop=" + MAIN_CODE,
        "  (order no. + last 4 phone digits, or the signed link, valid 30 days)",
    ]
    for what, order, case_no in buyers:
        digits = order.customer.phone_last4 or (order.receiver_phone or "")[-4:]
        lines.append(
            f"  {what}: order {order.external_id}, phone …{digits}"
            + (f", case {case_no}" if case_no else "")
        )
        lines.append(f"    http://127.0.0.1:8000{order_link(order)}")
    lines += [
        f"帮助中心 help centre — http://127.0.0.1:8000/help/{MAIN_CODE}/",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    return path


# --- the shops' knowledge: FAQ (help centre, assistant) and canned replies ---------------
# (title, body, case types it suits, statuses it suits)
DEMO_CANNED: list[tuple[str, str, list[str], list[str]]] = [
    (
        "问候并确认已收到申请",
        "{buyer} 您好，{shop} 已收到您的售后申请 {case_no}（订单 {order_no}），我们会尽快处理，"
        "请留意售后单进度。",
        [],
        ["awaiting_merchant", "submitted"],
    ),
    (
        "同意退货，告知退货地址",
        "{buyer} 您好，您的退货申请已同意。请在 {deadline} 前将商品寄回：{return_address}。"
        "寄出后请在售后单中填写快递单号，谢谢！",
        ["return_refund", "exchange", "repair"],
        ["awaiting_buyer_return"],
    ),
    (
        "退款已发起",
        "{buyer} 您好，售后单 {case_no} 的退款 {refund} 已原路退回，一般 1–3 个工作日到账，请注意查收。",
        ["refund_only", "return_refund", "price_protect"],
        ["refunding", "completed"],
    ),
    (
        "催促寄回商品",
        "{buyer} 您好，售后单 {case_no} 还在等待您寄回商品，请在 {deadline} 前寄出并填写快递单号，"
        "超时售后单将自动关闭哦。",
        ["return_refund", "exchange", "repair"],
        ["awaiting_buyer_return"],
    ),
    (
        "已收到退货，正在验货",
        "{buyer} 您好，我们已收到您寄回的包裹（运单 {tracking}），仓库正在验货，验货通过后立即为您处理。",
        ["return_refund", "exchange", "repair"],
        ["awaiting_merchant_receipt"],
    ),
    (
        "换货/补寄已发出",
        "{buyer} 您好，您的换货/补寄商品已发出，运单号 {tracking}，请注意查收，收到后在售后单中确认收货即可。",
        ["exchange", "reship", "repair"],
        ["awaiting_buyer_receipt"],
    ),
    (
        "请补充凭证",
        "{buyer} 您好，为了尽快处理售后单 {case_no}，麻烦您补充商品问题部位的清晰照片（含外包装和快递面单），谢谢配合！",
        [],
        ["awaiting_merchant", "in_arbitration"],
    ),
    (
        "处理结果与致歉",
        "{buyer} 您好，给您带来不便非常抱歉。售后单 {case_no} 当前状态：{status}。如有其他问题随时联系 {shop} 客服。",
        [],
        [],
    ),
]


def _seed_knowledge(shop: Shop) -> None:
    """The default FAQ (the one every shop starts from) and canned replies, so the help
    centre, the assistant and the desk are not empty."""
    retrieval.install_default_faq(shop)
    CannedReply.objects.bulk_create(
        CannedReply(
            shop=shop,
            title=title,
            body=body,
            case_types=types,
            statuses=statuses,
            position=(i + 1) * 10,
        )
        for i, (title, body, types, statuses) in enumerate(DEMO_CANNED)
    )


# --- parcels and conversations ------------------------------------------------------------
def _record_outbound_parcels(shop: Shop, rng: random.Random) -> int:
    """The carrier's record of each shipped order (carrier, tracking number, delivery), so
    the assistant can answer "快递到哪了" with real facts."""
    orders = (
        Order.objects.filter(shop=shop, shipped_at__isnull=False)
        .exclude(shipments__direction=ShipmentDirection.OUTBOUND)
        .order_by("id")
    )
    parcels = []
    for order in orders:
        carrier, prefix, digits = rng.choice(CARRIERS)
        tracking = prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
        parcels.append(
            Shipment(
                shop=shop,
                order=order,
                direction=ShipmentDirection.OUTBOUND,
                carrier=carrier,
                tracking_no=tracking,
                shipped_at=order.shipped_at,
                delivered_at=order.delivered_at,
            )
        )
    Shipment.objects.bulk_create(parcels)
    return len(parcels)


# (what the buyer says, in order) per demo conversation; the assistant reads each message
# with the real models and answers or hands over exactly as it would for a live buyer.
DEMO_CHATS = {
    "angry": [
        "你好，我的退款申请怎么还没处理",
        "都好几天了还不处理，你们就是骗子！再不退款我就去12315投诉！",
    ],
    "answered": ["亲 在吗", "我的订单什么时候发货呀", "可以开发票吗"],
    "tracking": ["我的快递到哪了"],
    "with_agent": ["拍错颜色了，能帮我改成黑色吗"],
    "second": ["你好，可以开发票吗"],
}
AGENT_REPLY = "亲，已为您备注改为黑色，仓库发货前会按备注修改，请放心。"


def _seed_conversations(main: _ShopCtx, second: _ShopCtx, now: datetime) -> int:
    """A handful of conversations made by the chat services: one waiting for a person with
    an angry buyer (and the case priority it raised), two answered by the assistant, one
    with an agent, and one in the second shop."""
    used: set[int] = set()

    def pick(shop: Shop, *statuses: str) -> Order | None:
        """An order in the first status that has one, preferring orders without a case
        (a small demo build may have none of those)."""
        no_case = Order.objects.exclude(id__in=Case.objects.values("order_id"))
        for status in statuses:
            for qs in (no_case, Order.objects.all()):
                order = (
                    qs.filter(shop=shop, status=status)
                    .exclude(id__in=used)
                    .select_related("customer")
                    .order_by("id")
                    .first()
                )
                if order is not None:
                    used.add(order.id)
                    return order
        return None

    waiting_case = (
        Case.objects.filter(shop=main.shop, status=S.AWAITING_MERCHANT)
        .select_related("order__customer")
        .order_by("opened_at", "id")
        .first()
    )
    if waiting_case is not None:
        used.add(waiting_case.order_id)
    plan = [
        ("angry", waiting_case.order if waiting_case else None, 95),
        ("answered", pick(main.shop, OrderStatus.PAID, OrderStatus.DELIVERED), 70),
        ("tracking", pick(main.shop, OrderStatus.SHIPPED, OrderStatus.DELIVERED), 50),
        ("with_agent", pick(main.shop, OrderStatus.PAID, OrderStatus.DELIVERED), 30),
        ("second", pick(second.shop, OrderStatus.DELIVERED, OrderStatus.COMPLETED), 20),
    ]
    made = 0
    for key, order, minutes_ago in plan:
        if order is None:
            continue
        ctx = second if key == "second" else main
        with clock.frozen(now - timedelta(minutes=minutes_ago)) as frozen:
            conversation = chat.open_conversation(ctx.shop, order.customer, order=order)
            for text in DEMO_CHATS[key]:
                frozen.advance(timedelta(minutes=2))
                chat.buyer_says(conversation.id, text)
            if key == "with_agent":
                member = ctx.agents[0] if ctx.agents else ctx.staff[Role.ADMIN.value]
                agent = Actor(
                    role=lc.ActorRole(member.role),
                    shop_id=ctx.shop.id,
                    staff_id=member.id,
                    label=member.display_name,
                )
                frozen.advance(timedelta(minutes=3))
                chat.take_over(conversation.id, agent)
                frozen.advance(timedelta(minutes=1))
                chat.agent_says(conversation.id, agent, AGENT_REPLY)
        made += 1
    return made
