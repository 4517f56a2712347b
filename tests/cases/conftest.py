from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shouhou.core import clock

# A fixed instant so deadlines and windows are exact; tests move it with `tick.advance`.
START = datetime(2025, 6, 18, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def tick():
    with clock.frozen(START) as frozen:
        yield frozen


@pytest.fixture
def staff(shop):
    from tests.cases.support import Staff

    return Staff.of(shop)
