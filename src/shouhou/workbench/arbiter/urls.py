"""/wb/arbitration/…: disputes and platform review (names prefixed arb_ in the wb namespace)."""

from django.urls import path

from . import views

urlpatterns: list = [
    path("", views.disputes, name="arb_list"),
    path("<int:case_id>/", views.dispute, name="arb_dispute"),
    path("<int:case_id>/rule/", views.rule, name="arb_rule"),
    path("<int:case_id>/statement/", views.statement, name="arb_statement"),
    path("<int:case_id>/review/", views.review, name="arb_review"),
    path(
        "<int:case_id>/evidence/<int:evidence_id>/",
        views.evidence_file,
        name="arb_evidence",
    ),
]
