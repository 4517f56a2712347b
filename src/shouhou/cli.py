"""The `shouhou` command line: a thin front over Django management commands.

`shouhou serve` is `django-admin serve` with the settings module set, and so on; anything
not listed here is still reachable as `shouhou manage <django command>`.
"""

from __future__ import annotations

import os
import sys

# (name typed by the user, Django command, one line of help). The order is the help order.
COMMANDS: list[tuple[str, str, str]] = [
    ("serve", "serve", "启动 Web 服务 (gunicorn) · serve the web app and API"),
    ("worker", "worker", "启动后台任务与超时扫描 · run the task queue and the deadline sweep"),
    ("tick", "tick", "拨动应用时钟并执行超时动作 · move the app clock, apply due deadlines"),
    ("outbox", "outbox", "通知发件箱：投递与状态 · deliver notifications, show the outbox"),
    ("demo", "demo", "载入演示店铺 · load the demo shop (--reset to rebuild)"),
    ("import-orders", "import_orders", "从 CSV 导入订单 · import orders from a CSV file"),
    ("assistant", "assistant", "智能客服模型 · assistant models: classify, eval, train"),
    (
        "keys",
        "keys",
        "字段加密密钥：状态/轮换/停用 · field-encryption keys: status, rotate, retire",
    ),
    ("customer", "customer", "客户数据导出/删除 · export or erase one customer's personal data"),
    ("migrate", "migrate", "建表/升级数据库 · create or upgrade the database"),
    ("createsuperuser", "createsuperuser", "创建超级管理员 · create a Django superuser"),
    ("manage", "", "任意 Django 管理命令 · any Django management command (shell, check…)"),
]
_BY_NAME = {name: django_name for name, django_name, _ in COMMANDS}
# Underscore spellings work too (`shouhou import_orders`), as Django users will type them.
_BY_NAME.update({django_name: django_name for _, django_name, _ in COMMANDS if django_name})


def usage() -> str:
    width = max(len(name) for name, _, _ in COMMANDS)
    lines = [
        "shouhou 售后 — after-sales service platform",
        "",
        "usage: shouhou <command> [options]      (shouhou <command> --help for its options)",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {text}" for name, _, text in COMMANDS]
    lines += [
        "",
        "environment: SHOUHOU_DATA_DIR (default ./var), SHOUHOU_DATABASE_URL, SHOUHOU_SECRET_KEY,",
        "             SHOUHOU_REDIS_URL, SHOUHOU_DEBUG — see README.md",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shouhou.settings")
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    if argv[0] in {"--version", "version"}:
        from importlib.metadata import version

        print(f"shouhou {version('shouhou')}")
        return 0
    name, rest = argv[0], argv[1:]
    if name == "manage":
        if not rest:
            rest = ["help"]
        django_argv = ["shouhou manage", *rest]
    elif name in _BY_NAME:
        django_argv = ["shouhou", _BY_NAME[name], *rest]
    else:
        print(f"shouhou: unknown command {name!r}\n", file=sys.stderr)
        print(usage(), file=sys.stderr)
        return 2
    from django.core.management import execute_from_command_line

    execute_from_command_line(django_argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
