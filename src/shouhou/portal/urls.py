from django.urls import path

from . import chat_views, views

app_name = "portal"
urlpatterns = [
    path("", views.lookup, name="lookup"),
    path("o/<str:token>/", views.signed_link, name="link"),
    path("leave/", views.leave, name="leave"),
    path("order/", views.order, name="order"),
    path("order/apply/", views.apply, name="apply"),
    path("case/<int:case_id>/", views.case, name="case"),
    path("case/<int:case_id>/do/<slug:action>/", views.case_action, name="case_action"),
    path("case/<int:case_id>/evidence/<int:evidence_id>/", views.evidence, name="evidence"),
    path("chat/", chat_views.chat_page, name="chat"),
    path("chat/send/", chat_views.chat_send, name="chat_send"),
    path("chat/messages/", chat_views.chat_messages, name="chat_messages"),
    path("chat/human/", chat_views.chat_human, name="chat_human"),
]
