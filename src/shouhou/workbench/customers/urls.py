"""/wb/customers/…: a customer's page for the shop admin (export, erase) and the reveal
buttons the desk and conversation pages use."""

from django.urls import path

from shouhou.workbench.desk.urls import DbId  # noqa: F401 — registers the "deskid" converter

from . import views

urlpatterns = [
    path("<deskid:customer_id>/", views.customer_page, name="customer"),
    path("<deskid:customer_id>/reveal/<slug:field>/", views.reveal, name="customer_reveal"),
    path(
        "<deskid:customer_id>/orders/<deskid:order_id>/reveal/<slug:field>/",
        views.reveal_receiver,
        name="customer_order_reveal",
    ),
    path("<deskid:customer_id>/export/", views.export, name="customer_export"),
    path("<deskid:customer_id>/erase/", views.erase, name="customer_erase"),
]
