"""Fixtures for the API tests."""

from __future__ import annotations

import pytest

from tests.factories import make_customer, make_order

from .support import Api, buyer_api, key_api, staff_api


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def integration(shop) -> Api:
    return key_api(shop)


@pytest.fixture
def agent(shop) -> Api:
    return staff_api(shop, "agent")


@pytest.fixture
def warehouse(shop) -> Api:
    return staff_api(shop, "warehouse")


@pytest.fixture
def finance(shop) -> Api:
    return staff_api(shop, "finance")


@pytest.fixture
def arbiter(shop) -> Api:
    return staff_api(shop, "arbiter")


@pytest.fixture
def order(shop):
    return make_order(shop, make_customer(shop), lines=[(2, 5000), (1, 3000)])


@pytest.fixture
def buyer(order) -> Api:
    return buyer_api(order)
