import pytest


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploaded evidence goes to a throw-away directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
