"""Timing one page through Django's test client, shared by the page benchmarks (import after
django.setup(); the scripts run from bench/, so `from timing import …` finds this file)."""

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext


def request(client, url):
    """Wall time and this process's CPU time (Python's share; PostgreSQL's backend is not counted)."""
    cpu = time.process_time()
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    assert response.status_code == 200, (url, response.status_code)
    return elapsed, cpu, response


def captured_queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return list(captured.captured_queries)  # read now: the next request resets the query log


def timed(client, url, repeat):
    request(client, url)  # warm-up: caches, connection, template loading
    samples = [request(client, url)[:2] for _ in range(repeat)]
    return samples, captured_queries(client, url)
