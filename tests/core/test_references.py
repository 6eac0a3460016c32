import threading

import pytest
from django.db import connection

from creditops.core.models import ReferenceCounter
from creditops.core.references import format_reference, reference_allocate_block, reference_next


def test_format_reference_pads_to_six_digits():
    assert format_reference("LN", 2026, 1) == "LN-2026-000001"
    assert format_reference("CN", 2027, 123456) == "CN-2027-123456"


@pytest.mark.django_db
def test_reference_next_counts_up_from_one():
    assert reference_next(prefix="LN", year=2026) == "LN-2026-000001"
    assert reference_next(prefix="LN", year=2026) == "LN-2026-000002"
    assert reference_next(prefix="LN", year=2026) == "LN-2026-000003"
    counter = ReferenceCounter.objects.get(prefix="LN", year=2026)
    assert counter.last_value == 3


@pytest.mark.django_db
def test_each_prefix_and_year_has_its_own_counter():
    assert reference_next(prefix="LN", year=2026) == "LN-2026-000001"
    assert reference_next(prefix="LN", year=2027) == "LN-2027-000001"
    assert reference_next(prefix="CN", year=2026) == "CN-2026-000001"
    assert reference_next(prefix="LN", year=2026) == "LN-2026-000002"
    assert reference_next(prefix="CN", year=2026) == "CN-2026-000002"
    assert reference_next(prefix="LN", year=2027) == "LN-2027-000002"
    assert sorted(ReferenceCounter.objects.values_list("prefix", "year", "last_value")) == [
        ("CN", 2026, 2),
        ("LN", 2026, 2),
        ("LN", 2027, 2),
    ]


@pytest.mark.django_db
def test_allocate_block_reserves_consecutive_numbers():
    assert reference_allocate_block(prefix="NT", year=2026, count=5) == 1
    assert reference_allocate_block(prefix="NT", year=2026, count=3) == 6
    assert reference_next(prefix="NT", year=2026) == "NT-2026-000009"


@pytest.mark.django_db(transaction=True)
def test_concurrent_allocation_has_no_gaps_and_no_duplicates(on_postgres):
    threads_count, per_thread = 4, 25
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_count)

    def work():
        from django.db import connection as thread_connection

        try:
            start.wait(timeout=10)
            mine = [reference_next(prefix="LN", year=2026) for _ in range(per_thread)]
            with lock:
                results.extend(mine)
        except BaseException as error:  # reported below, never swallowed
            with lock:
                errors.append(error)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=work) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(results) == threads_count * per_thread
    assert sorted(results) == [f"LN-2026-{n:06d}" for n in range(1, threads_count * per_thread + 1)]
    assert ReferenceCounter.objects.get(prefix="LN", year=2026).last_value == 100
    assert connection.vendor == "postgresql"
