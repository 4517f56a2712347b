"""`shouhou keys`: rotation re-encrypts every encrypted column, old keys retire only when
unused, an interrupted rotation resumes, and a missing or wrong key is a clear error."""

from __future__ import annotations

import base64
import json
import os
import stat
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from shouhou.cases.models import ReturnAddress
from shouhou.core import crypto
from shouhou.core.management.commands import keys
from shouhou.customers.models import Customer
from shouhou.orders.models import Order
from tests.factories import make_customer, make_order

pytestmark = pytest.mark.django_db


def raw(model, pk, column):
    with connection.cursor() as cur:
        table = connection.ops.quote_name(model._meta.db_table)
        cur.execute(f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [pk])
        return cur.fetchone()[0]


def fill(shop, n=7):
    customers = [
        make_customer(shop, phone=f"1391234{i:04d}", address=f"杭州市西湖区文三路 {i} 号")
        for i in range(n)
    ]
    orders = []
    for c in customers:
        o = make_order(shop, c)
        Order.objects.filter(pk=o.pk).update(receiver_phone="", receiver_address="")
        o.receiver_name, o.receiver_phone = "张三", c.phone
        o.receiver_address = c.address
        o.save()
        orders.append(o)
    ra = ReturnAddress.objects.create(
        shop=shop, label="仓", contact_name="李", phone="0571-88886666", address="余杭区仓前街道"
    )
    return customers, orders, ra


def plain_values(customers, orders, ra):
    return (
        [
            (c.name, c.phone, c.address)
            for c in Customer.objects.filter(pk__in=[c.pk for c in customers]).order_by("pk")
        ],
        [
            (o.receiver_name, o.receiver_phone, o.receiver_address)
            for o in Order.objects.filter(pk__in=[o.pk for o in orders]).order_by("pk")
        ],
        ReturnAddress.objects.values_list("phone", "address").get(pk=ra.pk),
    )


def run(*args) -> str:
    out = StringIO()
    call_command("keys", *args, stdout=out)
    return out.getvalue()


def test_every_encrypted_model_is_found():
    found = {ec.label: set(ec.fields) for ec in keys.encrypted_models()}
    assert found["customers.Customer"] == {"name", "phone", "address"}
    assert found["orders.Order"] == {"receiver_name", "receiver_phone", "receiver_address"}
    assert found["cases.ReturnAddress"] == {"phone", "address"}


def test_rotation_re_encrypts_every_row_and_values_stay_the_same(shop):
    customers, orders, ra = fill(shop)
    before = plain_values(customers, orders, ra)
    assert crypto.stored_key_id(raw(Customer, customers[0].pk, "phone")) == "s1"

    out = run("rotate", "--batch", "3")
    path = crypto.key_file_path()
    data = json.loads(path.read_text())
    new = data["current"]
    assert new != "s1" and set(data["keys"]) == {"s1", new} and "rotating" not in data
    assert base64.b64decode(data["keys"]["s1"]) == crypto.derived_key()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert new in out

    for c in customers:
        for col in ("name", "phone", "address"):
            value = raw(Customer, c.pk, col)
            assert not value or crypto.stored_key_id(value) == new
        assert crypto.stored_key_id(raw(Customer, c.pk, "phone")) == new
    for o in orders:
        for col in ("receiver_name", "receiver_phone", "receiver_address"):
            assert crypto.stored_key_id(raw(Order, o.pk, col)) == new
    assert crypto.stored_key_id(raw(ReturnAddress, ra.pk, "phone")) == new
    assert plain_values(customers, orders, ra) == before
    assert keys.remaining_stale() == 0

    status = run("status")
    assert f"当前密钥 current key: {new}" in status
    assert "customers.Customer.phone" in status


def test_old_key_is_retired_only_when_no_row_uses_it(shop):
    customers, orders, ra = fill(shop, 2)
    with pytest.raises(CommandError, match="current key"):
        run("rotate") and run("retire", crypto.key_ring()[0])
    first = crypto.key_ring(force=True)[0]
    # A row written back under s1 (say, by a server whose ring is older) pins s1.
    s1_value = raw(Customer, customers[0].pk, "phone")
    key = crypto.derived_key()
    nonce = os.urandom(12)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    ct = AESGCM(key).encrypt(nonce, b"13900000000", b"s1")
    old = f"enc1:s1:{base64.urlsafe_b64encode(nonce + ct).decode()}"
    Customer.objects.filter(pk=customers[0].pk).update(phone=crypto.Ciphertext(old))
    assert (
        crypto.stored_key_id(raw(Customer, customers[0].pk, "phone"))
        == "s1"
        != crypto.stored_key_id(s1_value)
    )

    with pytest.raises(CommandError, match="customers.Customer.phone: 1"):
        run("retire", "s1")
    with pytest.raises(CommandError, match="current key"):
        run("retire", first)
    run("rotate", "--resume")
    assert crypto.key_ring()[0] == first  # resuming made no new key
    assert Customer.objects.get(pk=customers[0].pk).phone == "13900000000"
    run("retire", "s1")
    assert set(json.loads(crypto.key_file_path().read_text())["keys"]) == {first}
    assert Customer.objects.get(pk=customers[1].pk).phone == customers[1].phone
    with pytest.raises(CommandError, match="not in"):
        run("retire", "s1")


def test_interrupted_rotation_resumes(shop, monkeypatch):
    customers, orders, ra = fill(shop, 6)
    before = plain_values(customers, orders, ra)
    real = keys.reencrypt_batch
    calls = {"n": 0}

    def crash_after_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(keys, "reencrypt_batch", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        keys.rotate(batch=2)
    monkeypatch.setattr(keys, "reencrypt_batch", real)
    data = json.loads(crypto.key_file_path().read_text())
    new = data["current"]
    assert data["rotating"] is True
    stale = keys.remaining_stale()
    assert 0 < stale < 6 + 6 + 1  # some rows done, some left
    assert "轮换未完成" in run("status")
    # Everything still reads correctly halfway: both keys are in the ring.
    assert plain_values(customers, orders, ra) == before

    # Running `rotate` again finishes the same rotation instead of making yet another key.
    out = run("rotate")
    assert "续跑 resumed" in out
    data = json.loads(crypto.key_file_path().read_text())
    assert data["current"] == new and "rotating" not in data and len(data["keys"]) == 2
    assert keys.remaining_stale() == 0
    assert plain_values(customers, orders, ra) == before


def test_a_concurrent_write_is_never_overwritten(shop):
    customers, orders, ra = fill(shop, 1)
    c = customers[0]
    ec = next(e for e in keys.encrypted_models() if e.model is Customer)
    # Switch to a new key without re-encrypting, then change the row between read and write.
    data = keys.load_file(crypto.key_file_path())
    data["keys"]["k2"] = os.urandom(32)
    data["current"] = "k2"
    keys.write_file(crypto.key_file_path(), data)
    real_encrypt = crypto.encrypt

    def encrypt_and_race(plain):
        if plain == c.phone:  # the row is being re-encrypted: someone saves a new phone now
            Customer.objects.filter(pk=c.pk).update(phone=real_encrypt("13511112222"))
        return real_encrypt(plain)

    crypto.encrypt = encrypt_and_race
    try:
        seen, written, skipped, _ = keys.reencrypt_batch(ec, "k2", None)
    finally:
        crypto.encrypt = real_encrypt
    assert (seen, written, skipped) == (1, 0, 1)
    assert Customer.objects.get(pk=c.pk).phone == "13511112222"


def test_a_running_process_sees_a_rotated_key_file(shop, monkeypatch):
    c = make_customer(shop, phone="13712345678")
    crypto.key_ring()  # cached
    # Another process rotates: writes a new key file and re-encrypts under the new key.
    path = crypto.key_file_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    new_key = os.urandom(32)
    path.write_text(
        json.dumps(
            {
                "current": "k9",
                "keys": {
                    "s1": base64.b64encode(crypto.derived_key()).decode(),
                    "k9": base64.b64encode(new_key).decode(),
                },
            }
        )
    )
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    stored = (
        "enc1:k9:"
        + base64.urlsafe_b64encode(
            nonce + AESGCM(new_key).encrypt(nonce, b"13712345678", b"k9")
        ).decode()
    )
    Customer.objects.filter(pk=c.pk).update(phone=crypto.Ciphertext(stored))
    # No cache_clear here: an unknown key id makes the ring look at the file again.
    assert Customer.objects.get(pk=c.pk).phone == "13712345678"
    assert crypto.key_ring()[0] == "k9"


def test_missing_or_wrong_key_is_a_clear_error(shop):
    c = make_customer(shop, phone="13612345678")
    run("rotate")
    path = crypto.key_file_path()
    data = json.loads(path.read_text())
    current = data["current"]

    # Wrong key under the right id.
    data["keys"][current] = base64.b64encode(os.urandom(32)).decode()
    path.write_text(json.dumps(data))
    crypto.key_ring.cache_clear()
    with pytest.raises(crypto.FieldKeyError, match="does not decrypt"):
        Customer.objects.get(pk=c.pk)

    # The key file is gone: the ring falls back to s1 and names the key it lacks.
    path.unlink()
    crypto.key_ring.cache_clear()
    with pytest.raises(crypto.FieldKeyError, match=f"field key '{current}' is not in the key ring"):
        Customer.objects.get(pk=c.pk)

    # A damaged key file says so.
    path.write_text("{not json")
    crypto.key_ring.cache_clear()
    with pytest.raises(crypto.FieldKeyError, match="unreadable or malformed"):
        crypto.key_ring()
    with pytest.raises(CommandError, match="unreadable or malformed"):
        run("status")


def test_retire_during_a_rotation_is_refused_and_the_new_key_survives(shop, monkeypatch):
    """A retire that read the key file before a rotation added its key and wrote it back
    after would drop the new key — every row re-encrypted under it would be lost. Rotate and
    retire each hold the lock file from reading the key file to their last write."""
    customers, orders, ra = fill(shop, 2)
    before = plain_values(customers, orders, ra)
    keys.rotate()  # s1 -> k1; s1 is now unused and may be retired
    real = keys.reencrypt_batch
    refused = []

    def retire_meanwhile(*args, **kwargs):
        if not refused:
            with pytest.raises(CommandError, match="another") as exc:
                keys.retire("s1")
            refused.append(str(exc.value))
            assert "s1" in json.loads(crypto.key_file_path().read_text())["keys"]
        return real(*args, **kwargs)

    monkeypatch.setattr(keys, "reencrypt_batch", retire_meanwhile)
    out = keys.rotate()  # k1 -> k2, a retire attempted in the middle
    assert refused, "the retire never ran during the rotation"
    data = json.loads(crypto.key_file_path().read_text())
    assert data["current"] == out["current"] and out["current"] in data["keys"]
    assert plain_values(customers, orders, ra) == before
    # Once the rotation is over the lock is free again.
    keys.retire("s1")
    assert "s1" not in json.loads(crypto.key_file_path().read_text())["keys"]
    assert plain_values(customers, orders, ra) == before
