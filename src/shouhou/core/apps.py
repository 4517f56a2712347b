from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "shouhou.core"
    label = "core"
    verbose_name = "核心 Core"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .models import ApiKey
        from .ratelimit import forget_api_keys

        # The rate limiter's cached map of live API keys is rebuilt after any key change.
        post_save.connect(forget_api_keys, sender=ApiKey, dispatch_uid="ratelimit-keys-save")
        post_delete.connect(forget_api_keys, sender=ApiKey, dispatch_uid="ratelimit-keys-delete")
