# The buyer portal finds an order by its number without a shop code (portal/selectors.py).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["external_id"], name="order_external_id"),
        ),
    ]
