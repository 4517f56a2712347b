"""Upgrading an install that never set SHOUHOU_SECRET_KEY. Such an install ran on the
built-in development key, and its encrypted fields (key "s1"), sessions and signed links
derive from it; the secret-key file the new version creates must hold that key, not a new
random one that would make every stored phone and address unreadable. A fresh data dir
still gets a random secret. Each version runs in its own process, as it would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shouhou import settings as shouhou_settings
from shouhou.core import crypto
from shouhou.customers.models import Customer
from tests.factories import make_customer

PHONE = "13911112222"
ADDRESS = "浙江省宁波市海曙区升级路 8 号"

WRITE = f"""
from django.core.management import call_command
call_command("migrate", verbosity=0)
from shouhou.core.models import Shop
from tests.factories import make_customer
shop = Shop.objects.create(code="up", name="升级店")
print(make_customer(shop, phone="{PHONE}", address="{ADDRESS}").pk)
"""

READ = """
import sys
from shouhou.customers.models import Customer
from django.conf import settings
c = Customer.objects.get(pk=int(sys.argv[1]))
print(c.phone, c.address, sep="|")
"""


def run(data_dir: Path, code: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SHOUHOU_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    base.update(env)
    base.update(
        DJANGO_SETTINGS_MODULE="shouhou.settings",
        SHOUHOU_DATA_DIR=str(data_dir),
        SHOUHOU_FAST_PASSWORDS="1",
        PYTHONPATH=os.pathsep.join(
            [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]
        ),
    )
    return subprocess.run(
        [sys.executable, "-c", "import django;django.setup();" + code, *args],
        env=base,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_an_install_that_ran_on_the_dev_key_stays_readable_after_the_upgrade(tmp_path):
    data = tmp_path / "var"
    # The old version: no SHOUHOU_SECRET_KEY, so the development key (which is what the old
    # settings used outside DEBUG too), and no secret-key file.
    old = run(data, WRITE, SHOUHOU_SECRET_KEY=shouhou_settings.DEV_SECRET_KEY)
    assert old.returncode == 0, old.stderr
    pk = old.stdout.strip().splitlines()[-1]
    assert (data / "shouhou.sqlite3").exists() and not (data / "secret-key").exists()

    new = run(data, READ, pk)
    assert new.returncode == 0, new.stderr
    assert new.stdout.strip() == f"{PHONE}|{ADDRESS}"
    assert (data / "secret-key").read_text().strip() == shouhou_settings.DEV_SECRET_KEY
    assert "WARNING" in new.stderr and "shouhou keys rotate" in new.stderr
    # The way out the warning gives: rotate (the field key moves into the key file), then a
    # real secret — and the data is still readable.
    rotated = run(
        data, "from django.core.management import call_command;call_command('keys','rotate')"
    )
    assert rotated.returncode == 0, rotated.stderr
    (data / "secret-key").write_text("a-real-random-secret-" + "x" * 50 + "\n")
    after = run(data, READ, pk)
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip() == f"{PHONE}|{ADDRESS}"
    assert "WARNING" not in after.stderr


def test_a_fresh_data_dir_gets_a_random_secret_and_no_warning(tmp_path):
    data = tmp_path / "fresh"
    out = run(data, "from django.conf import settings;print(settings.SECRET_KEY)")
    assert out.returncode == 0, out.stderr
    secret = out.stdout.strip()
    assert secret == (data / "secret-key").read_text().strip()
    assert secret != shouhou_settings.DEV_SECRET_KEY and len(secret) >= 50
    assert "WARNING" not in out.stderr


@pytest.mark.django_db
def test_a_changed_secret_key_is_named_in_the_error(shop, settings):
    c = make_customer(shop, phone=PHONE)
    assert not crypto.key_file_path().exists()
    settings.SECRET_KEY = "another-secret-" + "y" * 50
    crypto.key_ring.cache_clear()
    with pytest.raises(crypto.FieldKeyError, match="SECRET_KEY"):
        Customer.objects.get(pk=c.pk)
