from __future__ import annotations

import pytest

from shouhou.notify.models import Channel, Endpoint

from .receiver import Receiver


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def fast_outbox(settings):
    settings.SHOUHOU_OUTBOX_TIMEOUT = 5
    settings.SHOUHOU_OUTBOX_BACKOFF_SECONDS = 10
    settings.SHOUHOU_OUTBOX_BACKOFF_MAX_SECONDS = 600
    settings.SHOUHOU_OUTBOX_MAX_ATTEMPTS = 4
    settings.SHOUHOU_OUTBOX_LEASE_SECONDS = 60
    return settings


def webhook(shop, receiver, **kw) -> Endpoint:
    return Endpoint.objects.create(
        shop=shop,
        name=kw.pop("name", "ERP 回调"),
        channel=Channel.WEBHOOK,
        url=kw.pop("url", receiver.url),
        secret=receiver.secret,
        **kw,
    )
