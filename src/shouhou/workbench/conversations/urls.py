"""/wb/conversations/…: the agent's conversation list and one conversation."""

from django.urls import path, register_converter

from shouhou.workbench.desk.urls import DbId

from . import views

# Ids that fit a bigint column; longer digit runs are simply not found.
register_converter(DbId, "convid")

urlpatterns = [
    path("", views.conversation_list, name="conversations"),
    path("waiting/", views.waiting_badge, name="conversations_waiting"),
    path("<convid:conversation_id>/", views.conversation_page, name="conversation"),
    path(
        "<convid:conversation_id>/messages/",
        views.thread_after,
        name="conversation_messages",
    ),
    path("<convid:conversation_id>/reply/", views.reply, name="conversation_reply"),
    path("<convid:conversation_id>/take/", views.take, name="conversation_take"),
    path("<convid:conversation_id>/close/", views.close, name="conversation_close"),
    path("<convid:conversation_id>/case/", views.open_case, name="conversation_case"),
    path(
        "<convid:conversation_id>/messages/<convid:message_id>/correct/<slug:kind>/",
        views.correct,
        name="conversation_correct",
    ),
]
