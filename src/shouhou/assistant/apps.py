from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "shouhou.assistant"
    label = "assistant"
    verbose_name = "智能客服与知识库 Assistant & knowledge base"
