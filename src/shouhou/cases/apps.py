from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "shouhou.cases"
    label = "cases"
    verbose_name = "售后 Cases"

    def ready(self) -> None:
        # Registers the huey periodic deadline sweep with the consumer.
        from . import tasks  # noqa: F401
