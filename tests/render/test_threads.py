"""BLAS runs one thread inside sketchgen's drawing and building, and as configured outside."""

import pytest


def test_one_blas_thread_limits_and_restores_the_blas_pools():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import numpy as np  # noqa: F401  (loads numpy's BLAS, so there is a pool to see)

    from sketchgen.render.threads import one_blas_thread

    def blas_threads():
        return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    assert before, "numpy's BLAS should be visible to threadpoolctl"
    inside = one_blas_thread(blas_threads)()
    assert inside == [1] * len(before)
    assert blas_threads() == before
    assert one_blas_thread(lambda x, *, y: x + y)(2, y=3) == 5

    @one_blas_thread
    def stream(n):
        for _ in range(n):
            yield blas_threads()

    items = stream(2)
    assert next(items) == [1] * len(before)
    assert list(items) == [[1] * len(before)]
    assert blas_threads() == before
