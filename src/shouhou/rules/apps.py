from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "shouhou.rules"
    label = "rules"
    verbose_name = "自动化规则 Rules"
