"""`shouhou serve`: check the database, collect static files if they changed, run gunicorn."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

STAMP = ".shouhou-collected"


def unapplied_migrations() -> list[str]:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def static_fingerprint() -> str:
    """A hash of every static file the finders see (path, size, mtime)."""
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256()
    entries = []
    for finder in get_finders():
        for path, storage in finder.list([]):
            full = Path(storage.path(path))
            stat = full.stat()
            entries.append(f"{path}\0{stat.st_size}\0{int(stat.st_mtime)}")
    for entry in sorted(entries):
        digest.update(entry.encode())
    return digest.hexdigest()


def collectstatic_if_needed(stdout) -> bool:
    root = Path(settings.STATIC_ROOT)
    stamp = root / STAMP
    fingerprint = static_fingerprint()
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        return False
    call_command("collectstatic", interactive=False, verbosity=0, clear=stamp.exists())
    root.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)
    stdout.write(f"静态文件已收集 collected static files into {root}")
    return True


class Command(BaseCommand):
    help = (
        "启动 Web 服务 Serve the web app and API with gunicorn (production-grade, not runserver)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("SHOUHOU_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SHOUHOU_PORT", "8000")))
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("SHOUHOU_WEB_WORKERS", "2")),
            help="gunicorn worker processes (default 2)",
        )
        parser.add_argument(
            "--timeout", type=int, default=60, help="seconds before a stuck worker is restarted"
        )

    def handle(self, *args, host: str, port: int, workers: int, timeout: int, **options):
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        pending = unapplied_migrations()
        if pending:
            raise CommandError(
                f"数据库有 {len(pending)} 个未执行的迁移，请先运行 `shouhou migrate`。"
                f" / {len(pending)} unapplied migrations (first: {pending[0]}):"
                " run `shouhou migrate` first."
            )
        collectstatic_if_needed(self.stdout)
        # The gunicorn master forks the workers; no connection of ours should leak into them.
        connections.close_all()
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "shouhou.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--timeout",
            str(timeout),
            # gunicorn 27 otherwise opens ~/.gunicorn/gunicorn.ctl, one socket shared by
            # every gunicorn on the machine: a second server would fight over it.
            "--no-control-socket",
            "--access-logfile",
            "-",
            "--error-logfile",
            "-",
        ]
        self.stdout.write(f"shouhou 正在启动 serving on http://{host}:{port}/ ({workers} workers)")
        self.stdout.flush()
        sys.stderr.flush()
        # exec, so that signals (Ctrl-C, SIGTERM from a supervisor) reach gunicorn directly.
        os.execv(sys.executable, argv)
