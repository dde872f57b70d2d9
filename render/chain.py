"""Chaining line pieces that share endpoints into maximal polylines.

Pieces are straight segments with an id for each end (a mesh vertex, an edge crossing, or a unique id
for an end cut by hidden-line removal). Two pieces join where exactly two piece ends share an id; ends
shared by one piece or by three or more are polyline ends. The result depends only on the order of the
pieces, so the same input always gives the same polylines in the same order.
"""

from __future__ import annotations

import numpy as np


def chain_segments(node0: np.ndarray, node1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group pieces into polylines.

    node0, node1: (P,) int64 ids of each piece's start and end.
    Returns (order, flipped, lengths): order (P,) int64 piece indices, polyline after polyline, each
    along its polyline; flipped (P,) bool where a piece is walked from its end to its start; lengths
    (C,) int64 pieces per polyline. Polylines come in order of their lowest-index piece. A closed loop
    comes back to its first node.
    """
    n = len(node0)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, np.int64)
    ends = np.concatenate([node0, node1])  # end e < n is piece e's start, e >= n is piece e - n's end
    order = np.argsort(ends, kind="stable")  # the ends of each id together, in end order
    sorted_ends = ends[order]
    new = np.ones(2 * n, dtype=bool)
    new[1:] = sorted_ends[1:] != sorted_ends[:-1]
    first = np.flatnonzero(new)
    counts = np.diff(np.append(first, 2 * n))
    pair = np.flatnonzero(counts == 2)
    partner = np.full(2 * n, -1, dtype=np.int64)
    e1, e2 = order[first[pair]], order[first[pair] + 1]
    partner[e1], partner[e2] = e2, e1
    partner = partner.tolist()
    used = bytearray(n)
    walk: list[int] = []  # signed: piece + 1, negative when flipped
    lengths: list[int] = []
    for i in range(n):
        if used[i]:
            continue
        used[i] = 1
        forward = [i + 1]
        exit_end = i + n
        while True:
            p = partner[exit_end]
            if p < 0:
                break
            j = p - n if p >= n else p
            if used[j]:
                break
            used[j] = 1
            if p >= n:  # entered at its end: walked backwards
                forward.append(-j - 1)
                exit_end = j
            else:
                forward.append(j + 1)
                exit_end = j + n
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
            if p < n:  # reached at its start while walking back: it runs towards us reversed
                backward.append(-j - 1)
                exit_end = j + n
            else:
                backward.append(j + 1)
                exit_end = j
        backward.reverse()
        walk.extend(backward)
        walk.extend(forward)
        lengths.append(len(backward) + len(forward))
    signed = np.array(walk, dtype=np.int64)
    return np.abs(signed) - 1, signed < 0, np.array(lengths, dtype=np.int64)
