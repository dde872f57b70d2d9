"""One BLAS thread for sketchgen's own numpy work.

Drawing and building datasets multiply small matrices (a camera's 4x4 or 3x3 by a mesh's vertices, a
few thousand registration samples by a 3x3): products far too small to gain from BLAS's threads, which
spin up on every call and burn CPU time waiting on each other, more so on a busy or shared machine.
``one_blas_thread`` runs a function under ``threadpoolctl.threadpool_limits(1, user_api="blas")``
(the process's BLAS thread pools, restored afterwards); parallelism comes from sketchgen's worker
processes instead. Training (torch) is not wrapped.
"""

from __future__ import annotations

import functools
import inspect


def one_blas_thread(func):
    """``func`` run with BLAS limited to one thread (as is, when threadpoolctl is not installed). A
    generator function keeps the limit from its first item until it is exhausted or closed."""
    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def items(*args, **kwargs):
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:
                yield from func(*args, **kwargs)
                return
            with threadpool_limits(limits=1, user_api="blas"):
                yield from func(*args, **kwargs)

        return items

    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return func(*args, **kwargs)
        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return run
