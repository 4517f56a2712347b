"""Fixtures for the privacy tests: a key file of the test's own, a shop with staff."""

from __future__ import annotations

import pytest

from tests.cases.support import Staff


@pytest.fixture(autouse=True)
def _own_key_file(settings, tmp_path):
    """Each test gets its own (absent) key file, and no ring cached from another test."""
    from shouhou.core import crypto

    settings.SHOUHOU_FIELD_KEY_FILE = str(tmp_path / "keys" / "field-keys.json")
    settings.MEDIA_ROOT = tmp_path / "media"
    crypto.key_ring.cache_clear()
    yield
    crypto.key_ring.cache_clear()


@pytest.fixture
def staff(shop) -> Staff:
    return Staff.of(shop)
