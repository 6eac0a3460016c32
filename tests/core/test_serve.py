"""`manage.py serve` (the end of `make run`): Ctrl-C stops the server and the worker cluster within 10 s,
even while a worker is busy — django-q2's cluster on its own waits for its queued tasks first."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
STOP_WITHIN_SECONDS = 10


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose environment holds `marker` (the throwaway database's path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes() and (entry / "stat").read_text().split()[2] != "Z":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _wait_for(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(message)


@pytest.fixture
def throwaway_site(tmp_path):
    """A migrated SQLite database of its own and the environment that points manage.py at it."""
    database = tmp_path / "serve.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "creditops.settings.dev",
        "DATABASE_URL": f"sqlite:///{database}",
        "EMAIL_URL": "consolemail://",
        "Q_WORKERS": "2",
    }
    subprocess.run([sys.executable, MANAGE, "migrate", "-v0"], env=env, check=True, timeout=180)  # noqa: S603
    return database, env


def _task_taken(database: Path) -> bool:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT COUNT(*) FROM django_q_ormq WHERE lock IS NOT NULL").fetchone()[0] > 0


def test_ctrl_c_stops_server_and_busy_worker_within_ten_seconds(throwaway_site):
    database, env = throwaway_site
    queue_slow_task = "from django_q.tasks import async_task; async_task('time.sleep', 300)"
    subprocess.run([sys.executable, MANAGE, "shell", "-c", queue_slow_task], env=env, check=True, timeout=60)  # noqa: S603
    port = _free_port()
    serve = subprocess.Popen(  # noqa: S603
        [sys.executable, MANAGE, "serve", f"127.0.0.1:{port}", "--noreload"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_for(lambda: _task_taken(database), 60, "no worker took the slow task")
        _wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 60, "the server never answered")
        # serve, server, cluster parent, sentinel, workers: the cluster forks its workers in its own time.
        _wait_for(lambda: len(_processes_with(str(database))) >= 4, 60, "the worker cluster never started")
        began = time.monotonic()
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=STOP_WITHIN_SECONDS)
        took = time.monotonic() - began
    finally:
        for pid in _processes_with(str(database)):
            os.kill(pid, signal.SIGKILL)
    assert took < STOP_WITHIN_SECONDS
    assert _processes_with(str(database)) == []
    assert "Stopped the server and the worker" in serve.stdout.read()
