"""Fixtures for the desk tests: a shop with one member per role, and a second shop."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from shouhou.core.models import StaffMember
from tests.factories import make_staff


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@dataclass
class Team:
    agent: StaffMember
    agent2: StaffMember
    admin: StaffMember
    warehouse: StaffMember
    finance: StaffMember
    arbiter: StaffMember

    def of(self, role: str) -> StaffMember:
        return getattr(self, role)


@pytest.fixture
def team(shop) -> Team:
    return Team(
        agent=make_staff(shop, "agent", username="xiaowang"),
        agent2=make_staff(shop, "agent", username="xiaoli"),
        admin=make_staff(shop, "admin", username="dianzhang"),
        warehouse=make_staff(shop, "warehouse", username="laozhou"),
        finance=make_staff(shop, "finance", username="caiwu"),
        arbiter=make_staff(shop, "arbiter", username="xiaoer"),
    )
