"""The demo shops come with a useful FAQ and canned replies the settings pages manage."""

from __future__ import annotations

from shouhou import demo
from shouhou.assistant.models import CannedReply, FaqEntry
from shouhou.assistant.services import unknown_variables
from shouhou.core.models import Shop


def test_each_demo_shop_has_a_published_faq_and_canned_replies(db, settings, tmp_path, client):
    settings.DATA_DIR = tmp_path
    demo.build_demo(orders=80)
    for code in (demo.MAIN_CODE, demo.SECOND_CODE):
        shop = Shop.objects.get(code=code)
        faq = FaqEntry.objects.filter(shop=shop, is_published=True)
        assert faq.count() >= 15
        assert len({e.category for e in faq}) >= 5
        replies = list(CannedReply.objects.filter(shop=shop))
        assert len(replies) >= 8
        assert all(not unknown_variables(r.body) for r in replies)
        used = {
            v
            for r in replies
            for v in ("{buyer}", "{refund}", "{return_address}", "{tracking}")
            if v in r.body
        }
        assert len(used) == 4
    admin = next(
        m
        for m in Shop.objects.get(code=demo.MAIN_CODE).staff.select_related("user")
        if m.role == "admin"
    )
    client.force_login(admin.user)
    page = client.get("/wb/settings/faq/").content.decode()
    assert "支持七天无理由退货吗？" in page
