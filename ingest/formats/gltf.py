"""glTF 2.0 files (``.glb``, ``.gltf``) checked before trimesh reads them.

trimesh fills an accessor it cannot read with zeros: a Draco-compressed mesh without the optional
DracoPy decoder then loads as one point ("all faces degenerate"), and a buffer shorter than its
accessors declare fails deep inside numpy. Here, by the glTF 2.0 specification (Khronos, 2021):

- GLB: the 12-byte header's total length and each chunk's length against the file's size;
- every mesh primitive's POSITION and indices accessor: ``count`` elements of its type fit in its
  buffer view, the view in its buffer, a GLB's buffer in its BIN chunk;
- an accessor without a buffer view is filled by an extension: Draco (``KHR_draco_mesh_compression``)
  needs the optional package DracoPy, meshopt (``EXT_meshopt_compression``) has no reader here;
- any other extension the file requires (``extensionsRequired``) that changes geometry is refused by name.

The JSON is UTF-8 by the specification; one that is not is refused here, not handed to a decoder guesser.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

from sketchgen.errors import InputError

GLB_MAGIC = b"glTF"
CHUNK_JSON, CHUNK_BIN = 0x4E4F534A, 0x004E4942
COMPONENT_SIZES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
TYPE_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
# compression extensions: (what decodes them, the Python package that provides it or None)
DECODERS = {"KHR_draco_mesh_compression": ("a Draco decoder", "DracoPy"),
            "EXT_meshopt_compression": ("a meshoptimizer decoder", None)}
# required extensions that change only materials, textures, lights or metadata, never the geometry read
GEOMETRY_NEUTRAL = ("KHR_materials_", "KHR_texture_", "EXT_texture_", "KHR_lights_", "EXT_lights_", "KHR_xmp",
                    "MSFT_texture_", "KHR_animation_pointer")


def check_gltf(path: str | Path) -> None:
    """Raise InputError naming ``path`` and the reason when the file's meshes cannot be read as declared."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    bin_size = None
    if data[:4] == GLB_MAGIC:
        text, bin_size = _glb_chunks(path, data)
    elif path.suffix.lower() == ".glb":
        raise InputError(f"{path}: cannot parse as GLB (no 'glTF' magic at its start)")
    else:
        text = data
    try:
        tree = json.loads(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: its glTF JSON is not UTF-8 (byte {exc.start}), as the glTF specification "
                         "requires") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: its glTF JSON does not parse ({exc})") from None
    if not isinstance(tree, dict):
        raise InputError(f"{path}: its glTF JSON is not an object")
    _check_extensions(path, tree)
    _check_accessors(path, tree, bin_size)


def _glb_chunks(path: Path, data: bytes) -> tuple[bytes, int | None]:
    """(JSON chunk bytes, BIN chunk length or None) of a GLB, its declared lengths checked."""
    if len(data) < 20:
        raise InputError(f"{path}: GLB shorter than its 12-byte header and first chunk header ({len(data)} bytes)")
    _, version, length = struct.unpack_from("<4sII", data, 0)
    if version != 2:
        raise InputError(f"{path}: GLB version {version}; only glTF 2.0 is read")
    if length != len(data):
        raise InputError(f"{path}: its GLB header declares {length} bytes but the file holds {len(data)} (cut short?)")
    chunks, at = {}, 12
    while at + 8 <= len(data):
        size, kind = struct.unpack_from("<II", data, at)
        if at + 8 + size > len(data):
            raise InputError(f"{path}: a GLB chunk declares {size} bytes at byte {at} but the file ends "
                             f"{len(data) - at - 8} bytes after its header")
        chunks.setdefault(kind, data[at + 8:at + 8 + size])
        at += 8 + size
    if CHUNK_JSON not in chunks:
        raise InputError(f"{path}: GLB without its JSON chunk")
    return chunks[CHUNK_JSON], (len(chunks[CHUNK_BIN]) if CHUNK_BIN in chunks else None)


def _check_extensions(path: Path, tree: dict) -> None:
    required = [str(e) for e in tree.get("extensionsRequired", []) or []]
    for mesh in tree.get("meshes", []) or []:  # compression used without a fallback, listed or not
        for prim in mesh.get("primitives", []) or []:
            for ext in (prim.get("extensions") or {}):
                if ext in DECODERS and _without_fallback(tree, prim) and ext not in required:
                    required.append(ext)
    for ext in required:
        if ext in DECODERS:
            what, package = DECODERS[ext]
            if package is None:
                raise InputError(f"{path}: its meshes are compressed with {ext}, which needs {what}; sketchgen's "
                                 f"glTF reader (trimesh) has none (export the mesh uncompressed)")
            if importlib.util.find_spec(package) is None:
                raise InputError(f"{path}: its meshes are compressed with {ext}, which needs {what}: install the "
                                 f"optional package {package} (pip install {package}), or export the mesh "
                                 "uncompressed")
        elif not ext.startswith(GEOMETRY_NEUTRAL):
            raise InputError(f"{path}: it requires the glTF extension {ext}, which sketchgen's glTF reader "
                             f"(trimesh) does not read")


def _without_fallback(tree: dict, prim: dict) -> bool:
    accessors = tree.get("accessors", []) or []
    index = (prim.get("attributes") or {}).get("POSITION")
    return isinstance(index, int) and 0 <= index < len(accessors) and "bufferView" not in accessors[index]


def _check_accessors(path: Path, tree: dict, bin_size: int | None) -> None:
    accessors = tree.get("accessors", []) or []
    views = tree.get("bufferViews", []) or []
    buffers = tree.get("buffers", []) or []
    decoded = set(DECODERS)
    for m, mesh in enumerate(tree.get("meshes", []) or []):
        for p, prim in enumerate(mesh.get("primitives", []) or []):
            if decoded & set(prim.get("extensions") or {}):
                continue  # the decoder fills these accessors
            for role, index in (("POSITION", (prim.get("attributes") or {}).get("POSITION")),
                                ("indices", prim.get("indices"))):
                if index is None:
                    continue
                where = f"mesh {m} primitive {p} {role} (accessor {index})"
                if not isinstance(index, int) or not 0 <= index < len(accessors):
                    raise InputError(f"{path}: {where} does not exist ({len(accessors)} accessors)")
                _check_accessor(path, where, accessors[index], views, buffers, bin_size)


def _check_accessor(path: Path, where: str, acc: dict, views: list, buffers: list, bin_size: int | None) -> None:
    if "bufferView" not in acc:
        if "sparse" in acc:
            return
        raise InputError(f"{path}: {where} has no data (no bufferView): its geometry would read as zeros")
    try:
        count = int(acc["count"])
        elem = COMPONENT_SIZES[acc["componentType"]] * TYPE_COMPONENTS[acc["type"]]
        view = views[acc["bufferView"]]
        stride = int(view.get("byteStride") or elem)
        need = int(acc.get("byteOffset", 0)) + (stride * (count - 1) + elem if count else 0)
        view_end = int(view.get("byteOffset", 0)) + int(view["byteLength"])
        buffer = buffers[view["buffer"]]
        buffer_length = int(buffer["byteLength"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise InputError(f"{path}: {where} is not a valid glTF accessor") from None
    if need > int(view["byteLength"]):
        raise InputError(f"{path}: {where} declares {count} elements ({need} bytes) but its buffer view holds "
                         f"{view['byteLength']} bytes")
    if view_end > buffer_length:
        raise InputError(f"{path}: {where}'s buffer view ends at byte {view_end}, past its buffer's "
                         f"{buffer_length} bytes")
    if "uri" not in buffer and bin_size is not None and buffer_length > bin_size:
        raise InputError(f"{path}: its buffer declares {buffer_length} bytes but the GLB's BIN chunk holds "
                         f"{bin_size} (cut short?)")
