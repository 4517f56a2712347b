"""/wb/…: the agent desk."""

from django.urls import path, register_converter

from . import views


class DbId:
    """A row id that fits a bigint column; longer digit runs are simply not found."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(DbId, "deskid")

urlpatterns = [
    path("", views.queue, name="queue"),
    path("bulk/agree/", views.bulk_agree, name="bulk_agree"),
    path("views/save/", views.save_view, name="save_view"),
    path("views/<deskid:view_id>/delete/", views.delete_view, name="delete_view"),
    path("cases/<deskid:case_id>/", views.case_page, name="case"),
    path(
        "cases/<deskid:case_id>/evidence/<deskid:evidence_id>/",
        views.evidence_file,
        name="case_evidence",
    ),
    path("cases/<deskid:case_id>/act/<slug:action>/", views.act, name="case_act"),
    path("customers/<deskid:customer_id>/archive/", views.update_customer, name="customer_archive"),
    path("warehouse/", views.warehouse, name="warehouse"),
    path("finance/", views.finance, name="finance"),
]
