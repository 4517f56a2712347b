"""What the workbench keeps of its own: an agent's saved queue filters."""

from __future__ import annotations

from django.db import models

from shouhou.core.models import Shop, StaffMember


class SavedView(models.Model):
    """A named queue filter (the query string of /wb/), the staff member's own or shared
    with the shop's team."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="saved_views")
    owner = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField("名称 name", max_length=40)
    # Only the filter parameters, normalised by the desk (never a cursor or a page).
    query = models.CharField("筛选条件 filters", max_length=1000, blank=True, default="")
    shared = models.BooleanField("团队共享 shared", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "保存的视图 saved view"
        verbose_name_plural = "保存的视图 saved views"
        constraints = [
            models.UniqueConstraint(fields=["shop", "owner", "name"], name="savedview_owner_name")
        ]
        indexes = [models.Index(fields=["shop", "shared"], name="savedview_shop_shared")]

    def __str__(self) -> str:
        return self.name
