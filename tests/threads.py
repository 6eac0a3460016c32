"""Helpers for tests that run code side by side on PostgreSQL, each thread on its own connection."""

import threading

from django.db import connection


class Worker(threading.Thread):
    """Runs one call on its own database connection (closed at the end); keeps its result or exception."""

    def __init__(self, name, call, barrier=None):
        super().__init__(name=name, daemon=True)
        self.call, self.barrier, self.result = call, barrier, None

    def run(self):
        try:
            if self.barrier is not None:
                self.barrier.wait(timeout=10)
            self.result = self.call()
        except BaseException as error:  # handed to the test, not swallowed
            self.result = error
        finally:
            connection.close()
