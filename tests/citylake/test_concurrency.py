import threading

import pytest

from citylake.concurrency import concurrently


def test_the_results_come_in_the_order_of_the_items_whatever_finishes_first():
    first_may_finish = threading.Event()

    def work(item):
        if item == 0:  # the first item ends last
            assert first_may_finish.wait(10)
        else:
            first_may_finish.set()
        return item * 10

    assert concurrently(work, [0, 1, 2], workers=3) == [0, 10, 20]


def test_items_run_at_once_up_to_the_workers():
    together = threading.Barrier(2, timeout=10)  # broken (an error) unless two items wait at once
    assert concurrently(lambda item: together.wait() is not None and item, ["a", "b"], workers=2) == ["a", "b"]


def test_one_worker_runs_every_item_in_turn_in_the_calling_thread():
    threads = concurrently(lambda _: threading.current_thread(), range(3), workers=1)
    assert threads == [threading.current_thread()] * 3


def test_a_failure_is_raised_after_every_item_is_done():
    done = []

    def work(item):
        if item == "bad":
            raise ValueError("the second item failed")
        threading.Event().wait(0.2)  # still running when the failure is raised in its thread
        done.append(item)
        return item

    with pytest.raises(ValueError, match="the second item failed"):
        concurrently(work, ["a", "bad", "c", "d"], workers=2)
    assert sorted(done) == ["a", "c", "d"]
