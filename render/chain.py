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
        forward = [i + 1] + _walk(partner, used, i + n, backwards=False)
        backward = _walk(partner, used, i, backwards=True)
        backward.reverse()
        walk.extend(backward)
        walk.extend(forward)
        lengths.append(len(backward) + len(forward))
    signed = np.array(walk, dtype=np.int64)
    return np.abs(signed) - 1, signed < 0, np.array(lengths, dtype=np.int64)


def _walk(partner: list[int], used: bytearray, exit_end: int, backwards: bool) -> list[int]:
    """Follow partners from piece end ``exit_end`` (e < n: a piece's start, e >= n: its end, n = len(used))
    until an unpaired end or a used piece, marking each piece used. Returns the pieces as signed
    piece + 1 in the order reached, negative where the piece runs against the walk's polyline: entered
    at its end when walking forwards, at its start when walking backwards (the list is reversed after)."""
    n = len(used)
    steps = []
    while True:
        p = partner[exit_end]
        if p < 0:
            break
        at_end = p >= n
        j = p - n if at_end else p
        if used[j]:
            break
        used[j] = 1
        steps.append(-j - 1 if at_end != backwards else j + 1)
        exit_end = j if at_end else j + n  # leave by its other end
    return steps
