"""`make run`'s last step: the django-q2 worker cluster and the development server together, stopped
together.

Each child runs in a session of its own, so a Ctrl-C reaches only this process, which then stops both
children the same way: SIGTERM to each child's whole process group, and SIGKILL to what is still alive
after the grace period. django-q2's cluster alone does not stop on SIGTERM while a worker is busy — it
waits for every queued task to finish first — so without the deadline Ctrl-C could hang for minutes. A
task killed that way is handed out again by the broker (its `retry` setting) and the notice tasks are
idempotent, so nothing is lost.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

GRACE_SECONDS = 5
POLL_SECONDS = 0.2


class Command(BaseCommand):
    help = "Serve the portal (runserver) and run the background worker (qcluster); Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("address", nargs="?", default="127.0.0.1:8000", help="host:port for runserver")
        parser.add_argument("--noreload", action="store_true", help="runserver without its autoreloader")
        parser.add_argument(
            "--grace", type=float, default=GRACE_SECONDS, help="seconds to wait on SIGTERM before SIGKILL"
        )

    def handle(self, *args, address, noreload, grace, **options):
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        server_args = ["runserver", address] + (["--noreload"] if noreload else [])
        children = [_start(manage + ["qcluster"]), _start(manage + server_args)]
        stopping = []

        def stop(signum, frame):
            stopping.append(signum)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(POLL_SECONDS)
        stopped_in = _stop_all(children, grace)
        self.stdout.write(f"Stopped the server and the worker in {stopped_in:.1f} s.")


def _start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, start_new_session=True)  # noqa: S603 - our own manage.py


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited already
        os.killpg(child.pid, signum)


def _group_alive(child: subprocess.Popen) -> bool:
    child.poll()  # reap the leader if it has exited, so it no longer counts
    try:
        os.killpg(child.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_all(children: list[subprocess.Popen], grace: float) -> float:
    """SIGTERM every child's process group, SIGKILL those still alive after `grace` seconds; returns how
    long stopping took."""
    began = time.monotonic()
    for child in children:
        _signal_group(child, signal.SIGTERM)
    deadline = began + grace
    while time.monotonic() < deadline and any(_group_alive(child) for child in children):
        time.sleep(POLL_SECONDS)
    for child in children:
        if _group_alive(child):
            _signal_group(child, signal.SIGKILL)
    for child in children:
        child.wait()
    return time.monotonic() - began
