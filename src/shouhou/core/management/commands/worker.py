"""`shouhou worker`: huey's consumer (djhuey's run_huey) with the periodic deadline sweep.

The sweep (shouhou.cases.tasks.deadline_sweep) is a periodic task: the consumer enqueues
it when it starts and then every minute. Any number of workers may run side by side.
"""

from __future__ import annotations

import logging

from django.conf import settings
from huey.contrib.djhuey.management.commands.run_huey import Command as RunHuey


class Command(RunHuey):
    help = "启动后台任务与超时扫描 Run the task queue consumer and the periodic deadline sweep."

    def handle(self, *args, **options):
        from huey.contrib.djhuey import HUEY

        import shouhou.cases.tasks  # noqa: F401 — registers the periodic sweep even with -A

        if HUEY.immediate:
            # Immediate mode runs tasks inline in whoever enqueues them (tests, DEBUG); a
            # worker exists to drain the shared queue, so it always uses the real storage.
            self.stderr.write("worker: immediate mode is ignored; consuming the real queue")
            HUEY.immediate = False
        # run_huey gives the "huey" logger its own handler; the root handler from settings
        # would print every line a second time.
        logging.getLogger("huey").propagate = False
        backend = "Redis" if getattr(settings, "REDIS_URL", "") else "SQLite"
        self.stdout.write(
            f"shouhou worker: queue {HUEY.name!r} on {backend}; deadline sweep every minute"
        )
        self.stdout.flush()
        super().handle(*args, **options)
