"""/wb/settings/…: the shop admin's pages (names prefixed settings_ in the wb namespace)."""

from django.urls import path

from . import views

urlpatterns: list = [
    path("", views.policy, name="settings_policy"),
    path("rules/", views.rules, name="settings_rules"),
    path("rules/<int:rule_id>/", views.rule_edit, name="settings_rule_edit"),
    path("rules/<int:rule_id>/switch/", views.rule_switch, name="settings_rule_switch"),
    path("addresses/", views.addresses, name="settings_addresses"),
    path("addresses/<int:address_id>/", views.address_edit, name="settings_address_edit"),
    path(
        "addresses/<int:address_id>/default/",
        views.address_default,
        name="settings_address_default",
    ),
    path(
        "addresses/<int:address_id>/delete/", views.address_delete, name="settings_address_delete"
    ),
    path("team/", views.team, name="settings_team"),
    path("team/<int:member_id>/role/", views.team_role, name="settings_team_role"),
    path("team/<int:member_id>/active/", views.team_active, name="settings_team_active"),
    path("replies/", views.replies, name="settings_replies"),
    path("replies/<int:reply_id>/", views.reply_edit, name="settings_reply_edit"),
    path("replies/<int:reply_id>/delete/", views.reply_delete, name="settings_reply_delete"),
    path("replies/<int:reply_id>/move/", views.reply_move, name="settings_reply_move"),
    path("faq/", views.faq, name="settings_faq"),
    path("faq/default/", views.faq_install_default, name="settings_faq_install_default"),
    path("faq/<int:entry_id>/", views.faq_edit, name="settings_faq_edit"),
    path("faq/<int:entry_id>/publish/", views.faq_publish, name="settings_faq_publish"),
    path("faq/<int:entry_id>/delete/", views.faq_delete, name="settings_faq_delete"),
    path("faq/<int:entry_id>/move/", views.faq_move, name="settings_faq_move"),
    path("api-keys/", views.api_keys, name="settings_api_keys"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="settings_api_key_revoke"),
    path("audit/", views.audit, name="settings_audit"),
]
