"""A shape's own materials and textures, read from its mesh files for the photo renderer
(``render.photo.Appearance``).

OBJ meshes name a material per face (``usemtl``) from their ``mtllib`` files (``ingest.formats.mtl``)
and may give each face corner texture coordinates (``vt``). ShapeNetCore and PartNet-Mobility ship
them. ``shape_appearance`` re-reads the files of a loaded ``PartMesh`` (its ``source``: an OBJ file or
a PartNet directory, whose leaf OBJs are read in the loader's order) and carries each face's material
and UVs to the PartMesh's faces through ``PartMesh.file_face``. Faces the files give no material
(other formats, a missing ``usemtl``, faces made by decimation) get none: the renderer gives them
their part's random material.

A missing or unreadable MTL file or texture image is not fatal: the faces keep their ``Kd`` colour
(or no material) and the problem is returned as a note, one line naming the file.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np

from sketchgen.errors import InputError
from sketchgen.render.photo import Appearance, Material
from sketchgen.render.textures import srgb_to_linear

log = logging.getLogger(__name__)

_IMAGES: OrderedDict[str, np.ndarray] = OrderedDict()  # texture path -> RGB image, the last few used
_KEEP_IMAGES = 16


def load_texture(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file (alpha dropped; grey made RGB). Raises InputError naming
    the file when it is missing or not an image OpenCV can decode."""
    import cv2

    key = str(path)
    if key in _IMAGES:
        _IMAGES.move_to_end(key)
        return _IMAGES[key]
    try:
        data = np.fromfile(key, np.uint8)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if len(data) else None
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can decode")
    image = np.ascontiguousarray(image[..., ::-1])
    _IMAGES[key] = image
    while len(_IMAGES) > _KEEP_IMAGES:
        _IMAGES.popitem(last=False)
    return image


def _obj_files(shape) -> list[Path]:
    """The OBJ files whose faces, concatenated, are the file faces ``shape.file_face`` indexes."""
    source = Path(str(shape.source))
    if source.is_dir() and (source / "result.json").is_file():
        from sketchgen.ingest.loaders import _leaf_objs, partnet_parts

        _, children = partnet_parts(source)
        folder = source / ("objs" if (source / "objs").is_dir() or not (source / "textured_objs").is_dir()
                           else "textured_objs")
        return [folder / f"{obj}.obj" for child in children for obj in _leaf_objs(child)]
    if source.suffix.lower() == ".obj" and source.is_file():
        return [source]
    return []


def shape_appearance(shape) -> tuple[Appearance | None, list[str]]:
    """(the faces' own materials, notes) of a ``PartMesh`` loaded from OBJ files with materials; (None,
    notes) when its files name none (or are not OBJ). Notes: one line each naming a file whose materials
    could not be used (a missing MTL or texture, an unparseable line) and what was done instead."""
    from sketchgen.ingest.formats.mtl import read_mtl
    from sketchgen.ingest.formats.obj import read_obj_texcoords
    from sketchgen.ingest.meshfile import read_mesh_and_groups

    files = _obj_files(shape)
    if not files or shape.file_face is None:
        return None, []
    notes: list[str] = []
    materials: list[Material] = []
    by_key: dict[tuple[str, str], int] = {}
    face_mat, face_uv = [], []
    for path in files:
        try:
            _, obj = read_mesh_and_groups(path)
        except InputError:
            continue  # the loader skipped this leaf too (and noted why)
        n = len(obj.faces)
        mats = np.full(n, -1, np.int64)
        uv = np.full((n, 3, 2), np.nan)
        try:
            tex = read_obj_texcoords(path)
        except InputError as exc:
            notes.append(f"{exc}; its faces take random materials")
            face_mat.append(mats)
            face_uv.append(uv)
            continue
        library: dict = {}
        for name in tex.mtllibs:
            try:
                library.update(read_mtl(path.parent / name))
            except InputError as exc:
                notes.append(f"{exc}; the materials it defines are random")
        for local, name in enumerate(obj.material_names):
            mtl = library.get(name)
            if mtl is None:
                continue
            key = (str(path.parent), name)
            if key not in by_key:
                texture = None
                if mtl.texture is not None:
                    try:
                        texture = load_texture(mtl.texture)
                    except InputError as exc:
                        notes.append(f"{exc}; material {name!r} of {path} keeps its Kd colour")
                rough, metal = mtl.pbr()
                by_key[key] = len(materials)
                # Kd is written as displayed (sRGB), as viewers of ShapeNet show it
                materials.append(Material(name, srgb_to_linear(mtl.diffuse), rough, metal, texture))
            mats[obj.materials == local] = by_key[key]
        if len(tex.face_texcoords) == n and len(tex.texcoords):
            ok = (tex.face_texcoords >= 0).all(axis=1)
            uv[ok] = tex.texcoords[tex.face_texcoords[ok]]
        face_mat.append(mats)
        face_uv.append(uv)
    if not materials:
        return None, notes
    all_mat, all_uv = np.concatenate(face_mat), np.concatenate(face_uv)
    file_face = np.asarray(shape.file_face, np.int64)
    if file_face.max(initial=-1) >= len(all_mat):
        notes.append(f"{shape.source}: its files hold {len(all_mat)} faces, fewer than the shape was made of "
                     "(changed since it was indexed?); its materials are random")
        return None, notes
    known = file_face >= 0
    face_material = np.full(len(file_face), -1, np.int64)
    face_material[known] = all_mat[file_face[known]]
    uv = np.full((len(file_face), 3, 2), np.nan)
    uv[known] = all_uv[file_face[known]]
    # the PartMesh's corners are the file's corners (faces are kept as read, vertex order included),
    # so each face's three UVs follow it unchanged
    return Appearance(face_material, tuple(materials), uv if np.isfinite(uv).any() else None), notes
