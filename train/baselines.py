"""Baselines the papers compared against: Shape Context and HOG point descriptors (SketchZooms), the
identity warp and the best global affine warp fitted to the estimator's own features (PSC).

Positions are (N, 2) float64 pixels, origin at the top-left corner, y down.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from sketchgen.train.images import crop

SC_RADIAL = 6
SC_ANGULAR = 12
SC_INNER_RATIO = 1.0 / 16.0  # Belongie et al.: log-polar bins from r/8 to 2r, the same 16x span


def stroke_points(ink: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """(M, 2) float64 pixel centres of the stroke pixels of an (H, W) ink image (ink > threshold)."""
    rows, cols = np.nonzero(ink > threshold)
    return np.stack([cols + 0.5, rows + 0.5], axis=1).astype(np.float64)


def shape_context(points: np.ndarray, centres: np.ndarray, r_outer: float, *, n_radial: int = SC_RADIAL,
                  n_angular: int = SC_ANGULAR, r_inner: float | None = None) -> np.ndarray:
    """Shape Context histograms: for each centre, counts of ``points`` in log-polar bins.

    points: (M, 2) edge pixels; centres: (N, 2). Radial bin edges are log-spaced from ``r_inner``
    (default r_outer / 16) to ``r_outer``; points nearer than r_inner fall in the first ring, points at
    r_outer or beyond and the centre itself are not counted. Angles are measured counter-clockwise on
    screen (y up) from the +x axis, bin k covering [k, k+1) x 360 / n_angular degrees.
    Returns (N, n_radial * n_angular) float64 counts, radial-major (index = ring * n_angular + sector).
    """
    points = np.asarray(points, np.float64).reshape(-1, 2)
    centres = np.asarray(centres, np.float64).reshape(-1, 2)
    r_inner = r_outer * SC_INNER_RATIO if r_inner is None else r_inner
    edges = np.geomspace(r_inner, r_outer, n_radial + 1)
    out = np.zeros((len(centres), n_radial * n_angular))
    if len(points) == 0:
        return out
    for i, c in enumerate(centres):
        d = points - c
        r = np.hypot(d[:, 0], d[:, 1])
        keep = (r > 1e-9) & (r < r_outer)
        ring = np.clip(np.searchsorted(edges, r[keep], side="right") - 1, 0, n_radial - 1)
        theta = np.mod(np.arctan2(-d[keep, 1], d[keep, 0]), 2 * np.pi)
        sector = np.minimum((theta / (2 * np.pi / n_angular)).astype(int), n_angular - 1)
        np.add.at(out[i], ring * n_angular + sector, 1.0)
    return out


def shape_context_descriptors(ink: np.ndarray, centres: np.ndarray, r_outer: float) -> np.ndarray:
    """Normalised Shape Context (each histogram sums to 1, then square-rooted so L2 matching behaves like
    the chi-squared / Hellinger comparison): (N, 72) float64."""
    h = shape_context(stroke_points(ink), centres, r_outer)
    h = h / np.maximum(h.sum(axis=1, keepdims=True), 1.0)
    return np.sqrt(h)


def hog_descriptors(grey: np.ndarray, centres: np.ndarray, half: float, *, size: int = 64) -> np.ndarray:
    """HOG (scikit-image; 9 orientations, 16 px cells, 2x2 blocks) of the window of half-size ``half``
    around each centre, resampled to ``size`` px: (N, D) float64."""
    from skimage.feature import hog

    out = [hog(crop(grey, c, half, size), orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2),
               feature_vector=True) for c in np.asarray(centres).reshape(-1, 2)]
    return np.asarray(out, np.float64).reshape(len(out), -1)


# ----------------------------------------------------------------------------------------- warps
def identity_transfer(xy: np.ndarray) -> np.ndarray:
    """The identity warp: every point stays where it is. (N, 2) -> (N, 2)."""
    return np.asarray(xy, np.float64).copy()


def feature_matches(model, source: torch.Tensor, target: torch.Tensor, target_mask: np.ndarray | None = None,
                    domains=(None, None)):
    """Nearest-neighbour matches between the estimator's own correlation features.

    source, target: (1, 1, H, W) float32 ink. Uses the estimator's own ``layer2`` and ``layer3`` features
    at 16x16 (as its first block), compared by cosine similarity summed over the two layers. Returns (t, s): (K, 2) float32 normalised
    grid positions (``align_corners=True``) of target nodes and of their best source node, restricted to
    target nodes on the object when ``target_mask`` (H, W) bool is given (and at least 3 are).
    """
    stn = model.stn
    with torch.no_grad():
        # cosine, not the raw dot product: nearest-neighbour matching by raw products favours the
        # strongest source features over the most similar ones
        fs = {k: torch.nn.functional.normalize(v, dim=1)
              for k, v in stn.resize(model.encode(source, domains[0])).items()}
        ft = {k: torch.nn.functional.normalize(v, dim=1)
              for k, v in stn.resize(model.encode(target, domains[1])).items()}
        n = stn.feat_size
        corr = sum(ft[k][0].flatten(1).T @ fs[k][0].flatten(1) for k in ft)  # (t, s) cosines, summed
    best = corr.argmax(dim=1).cpu().numpy()  # for each target node, the source node
    nodes = stn.base_map[0].reshape(-1, 2).cpu().numpy()
    keep = np.ones(n * n, bool)
    if target_mask is not None:
        small = cv2.resize(target_mask.astype(np.uint8), (n, n), interpolation=cv2.INTER_AREA) > 0
        if small.sum() >= 3:
            keep = small.reshape(-1)
    return nodes[keep], nodes[best[keep]]


def affine_grid(model, source: torch.Tensor, target: torch.Tensor, target_mask: np.ndarray | None = None,
                size: int = 16, domains=(None, None)) -> torch.Tensor:
    """The best global affine warp fitted (RANSAC, then least squares on the inliers) to the feature
    matches: (1, size, size, 2) float32 grid over the target, positions in the source (``align_corners``).
    ``domains``: (source's, target's) for a per-domain encoder (``WarpEstimator.encode``)."""
    t, s = feature_matches(model, source, target, target_mask, domains)
    cv2.setRNGSeed(0)  # RANSAC draws from cv2's global generator: fix it so evaluations repeat exactly
    m, _ = cv2.estimateAffine2D(t.astype(np.float32), s.astype(np.float32), method=cv2.RANSAC,
                                ransacReprojThreshold=0.1, maxIters=2000, refineIters=10)
    if m is None:
        m = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    theta = torch.tensor(m, dtype=torch.float32).unsqueeze(0)
    return torch.nn.functional.affine_grid(theta, [1, 1, size, size], align_corners=True)
