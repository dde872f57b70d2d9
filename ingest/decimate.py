"""Decimating a PartMesh to a face budget, part by part so every face keeps its part label.

Uses quadric decimation from ``fast_simplification``. The unit-sphere frame and its transform are
kept (the simplified surface stays within it); keypoints move to the nearest point of the decimated
surface on their own part.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np

from sketchgen.errors import InputError
from sketchgen.ingest.keypoints import Keypoints
from sketchgen.ingest.partmesh import PartMesh, face_components


def decimate(shape: PartMesh, max_faces: int) -> PartMesh:
    """A copy of ``shape`` with about ``max_faces`` faces or fewer: each connected piece of each part gets
    its share by face count (at least 4; pieces of 8 faces or fewer are kept whole, so a mesh of many
    tiny pieces can stay over budget). Returns ``shape`` itself when it is within the budget."""
    if max_faces <= 0:
        raise InputError(f"{shape.source}: face budget must be positive, got {max_faces}")
    if shape.n_faces <= max_faces:
        return shape
    import fast_simplification

    verts, faces, labels, offset = [], [], [], 0
    for label in shape.parts:
        # component by component: the simplifier stalls far above its target on a part made of
        # several separate pieces (four legs), and does well on each piece alone
        for comp in face_components(shape, np.flatnonzero(shape.face_labels == label)):
            used, local = np.unique(shape.faces[comp], return_inverse=True)
            local = local.reshape(-1, 3)
            budget = max(4, int(max_faces * len(comp) / shape.n_faces))
            if len(comp) > budget and len(comp) > 8:
                p, f = fast_simplification.simplify(shape.vertices[used], local.astype(np.int32),
                                                    target_reduction=1.0 - budget / len(comp))
            else:
                p, f = shape.vertices[used], local
            verts.append(np.asarray(p, np.float64))
            faces.append(np.asarray(f, np.int64) + offset)
            labels.append(np.full(len(f), label, np.int64))
            offset += len(p)
    vertices, new_faces, new_labels = np.concatenate(verts), np.concatenate(faces), np.concatenate(labels)
    kp = shape.keypoints
    if len(kp):
        kp = _reproject_keypoints(shape, vertices, new_faces, new_labels)
    cleanup = dict(shape.cleanup, decimated=shape.n_faces - len(new_faces))
    return dataclasses.replace(shape, vertices=vertices, faces=new_faces, face_labels=new_labels, keypoints=kp,
                               file_face=np.full(len(new_faces), -1, np.int64), cleanup=cleanup)


def _reproject_keypoints(shape: PartMesh, vertices, faces, labels) -> Keypoints:
    from sketchgen.ingest.sampling import closest_surface_points

    target = SimpleNamespace(vertices=vertices, faces=faces)  # the decimated surface
    points = shape.keypoint_points()
    own = shape.face_labels[shape.keypoints.face]
    face = np.zeros(len(points), np.int64)
    bary = np.zeros((len(points), 3))
    for label in np.unique(own):
        sel = np.flatnonzero(own == label)
        f, b, _ = closest_surface_points(target, points[sel], np.flatnonzero(labels == label))
        face[sel], bary[sel] = f, b
    return Keypoints(face, bary, shape.keypoints.semantic_id.copy(), shape.keypoints.xyz)
