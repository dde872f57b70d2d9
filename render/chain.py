"""Chaining line pieces that share endpoints into maximal polylines.

Pieces are straight segments with an id for each end (a mesh vertex, an edge crossing, or a unique id
for an end cut by hidden-line removal). Two pieces join where exactly two piece ends share an id; ends
shared by one piece or by three or more are polyline ends. The result depends only on the order of the
pieces, so the same input always gives the same polylines in the same order.
"""

from __future__ import annotations

import numpy as np


def chain_segments(node0: np.ndarray, node1: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group pieces into polylines.

    node0, node1: (P,) int64 ids of each piece's start and end.
    Returns one (order, flipped) per polyline, in order of its lowest-index piece: order (k,) int64
    piece indices along the polyline, flipped (k,) bool where a piece is walked from end to start.
    A closed loop comes back to its first node.
    """
    n = len(node0)
    if n == 0:
        return []
    ends = np.concatenate([node0, node1])  # end e < n is piece e's start, e >= n is piece e - n's end
    _, inverse, counts = np.unique(ends, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pair = np.flatnonzero(counts == 2)
    partner = np.full(2 * n, -1, dtype=np.int64)
    e1, e2 = order[first[pair]], order[first[pair] + 1]
    partner[e1], partner[e2] = e2, e1
    partner = partner.tolist()
    used = bytearray(n)
    chains = []
    for i in range(n):
        if used[i]:
            continue
        used[i] = 1
        forward = [(i, False)]
        exit_end = i + n
        while True:
            p = partner[exit_end]
            if p < 0:
                break
            j = p - n if p >= n else p
            if used[j]:
                break
            used[j] = 1
            flipped = p >= n  # entered at its end: walked backwards
            forward.append((j, flipped))
            exit_end = j if flipped else j + n
        backward = []
        exit_end = i
        while True:
            p = partner[exit_end]
            if p < 0:
                break
            j = p - n if p >= n else p
            if used[j]:
                break
            used[j] = 1
            flipped = p < n  # reached at its start while walking back: it runs towards us reversed
            backward.append((j, flipped))
            exit_end = j + n if flipped else j
        items = backward[::-1] + forward
        chains.append((np.array([a for a, _ in items], dtype=np.int64),
                       np.array([b for _, b in items], dtype=bool)))
    return chains
