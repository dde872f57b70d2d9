"""Mesh files whose data does not hold what they declare, text in legacy encodings, and meshes that need
an optional decoder: each refused in one line naming the file and the counts (or loaded, when it can be).

Every file is made here: a subdivided icosahedron (162 vertices, 320 faces) written by trimesh's
exporters, then cut, padded or edited as the format's specification describes.
"""

import json
import struct
import subprocess
import sys

import numpy as np
import pytest
import trimesh

from sketchgen.errors import InputError
from sketchgen.ingest.meshfile import read_mesh

SPHERE = trimesh.creation.icosphere(subdivisions=2)  # 162 vertices, 320 faces
V, F = len(SPHERE.vertices), len(SPHERE.faces)


def _refused(path, reason):
    with pytest.raises(InputError) as info:
        read_mesh(path)
    assert str(info.value) == f"{path}: {reason}"


# ------------------------------------------------------------------------------------------------- PLY
def _ascii_ply() -> bytes:
    return trimesh.exchange.ply.export_ply(SPHERE, encoding="ascii")


def test_an_ascii_ply_cut_between_rows_is_refused_with_the_counts(tmp_path):
    data = _ascii_ply()
    head, body = data.split(b"end_header\n")
    rows = body.splitlines(keepends=True)
    kept = V + 241  # every vertex row and 241 of the 320 face rows
    path = tmp_path / "cut.ply"
    path.write_bytes(head + b"end_header\n" + b"".join(rows[:kept]))
    _refused(path, f"its PLY header declares {V} vertices and {F} faces but the file holds {V} vertices and "
                   f"241 faces (cut short?)")
    # cut among the vertex rows: no face row is left
    path.write_bytes(head + b"end_header\n" + b"".join(rows[:100]))
    _refused(path, f"its PLY header declares {V} vertices and {F} faces but the file holds 100 vertices and "
                   f"0 faces (cut short?)")


def test_an_ascii_ply_cut_inside_its_last_row_is_refused(tmp_path):
    data = _ascii_ply().rstrip()
    path = tmp_path / "cutrow.ply"
    path.write_bytes(data[:data.rindex(b" ")])  # "3 a b c" loses its last index
    _refused(path, f"its PLY header declares {V} vertices and {F} faces but the file holds {V} vertices and "
                   f"{F - 1} faces (its last face is cut short: 3 values)")


def test_a_binary_ply_cut_short_or_padded_is_refused_with_the_counts(tmp_path):
    data = trimesh.exchange.ply.export_ply(SPHERE, encoding="binary")
    header_size = data.index(b"end_header\n") + len(b"end_header\n")
    # trimesh writes x y z as float32 (12 bytes a vertex row), a face as a uchar count and 3 int32 (13)
    assert b"property float x" in data and b"property list uchar int vertex_indices" in data
    vertex_bytes = header_size + 12 * V
    path = tmp_path / "cut.ply"
    path.write_bytes(data[:vertex_bytes + 13 * 200 + 7])  # 200 whole faces and part of the next
    _refused(path, f"its PLY header declares {V} vertices and {F} faces but the file holds {V} vertices and "
                   f"200 faces (cut short?)")
    path.write_bytes(data + b"\0" * 5)
    _refused(path, f"its PLY data runs 5 bytes past the rows its header declares ({V} vertices and {F} faces)")


def test_a_ply_whose_comment_holds_a_latin1_byte_loads(tmp_path):
    data = _ascii_ply().replace(b"ply\n", "ply\ncomment exported by Gr\xfcnwald CAD\n".encode("latin-1"), 1)
    path = tmp_path / "latin1.ply"
    path.write_bytes(data)
    mesh = read_mesh(path)
    np.testing.assert_array_equal(mesh.faces, SPHERE.faces)
    np.testing.assert_allclose(mesh.vertices, SPHERE.vertices, atol=1e-6)


# ------------------------------------------------------------------------------------------------- OFF
def test_an_off_cut_short_is_refused_with_its_counts(tmp_path):
    text = trimesh.exchange.off.export_off(SPHERE)
    lines = text.splitlines(keepends=True)
    assert lines[0].strip() == "OFF" and lines[1].split()[:2] == [str(V), str(F)]
    path = tmp_path / "cut.off"
    path.write_text("".join(lines[:2 + V + 100]))  # the header, every vertex and 100 of the faces
    _refused(path, f"declares {V} vertices and {F} faces on line 2 but holds {V + 100} data lines")


# ------------------------------------------------------------------------------------------------- STL
def test_an_ascii_stl_named_in_latin1_loads_as_its_binary_twin(tmp_path):
    """The solid's name is the only text of an STL; a Latin-1 byte there needs no encoding guesser."""
    text = trimesh.exchange.stl.export_stl_ascii(SPHERE).replace("solid", "solid Stuhl-R\xfccken", 1)
    ascii_path, binary_path = tmp_path / "named.stl", tmp_path / "twin.stl"
    ascii_path.write_bytes(text.encode("latin-1"))
    binary_path.write_bytes(trimesh.exchange.stl.export_stl(SPHERE))
    a, b = read_mesh(ascii_path), read_mesh(binary_path)
    assert a.faces.shape == (F, 3) and len(a.vertices) == V
    np.testing.assert_array_equal(a.faces, b.faces)
    np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-6)


def test_an_ascii_stl_cut_short_or_malformed_is_refused(tmp_path):
    text = trimesh.exchange.stl.export_stl_ascii(SPHERE)
    lines = text.splitlines(keepends=True)
    path = tmp_path / "cut.stl"
    # each facet is 7 lines after the solid line: keep 100 facets and 3 lines of the 101st
    path.write_text("".join(lines[:1 + 7 * 100 + 3]))
    _refused(path, "ASCII STL ends after 100 complete facets, inside a facet (no endfacet: cut short?)")
    path.write_text("".join(lines[:-1]))  # every facet, no endsolid
    _refused(path, f"ASCII STL ends after {F} complete facets, inside a solid (no endsolid: cut short?)")
    four = lines[:1] + lines[1:5] + lines[4:5] + lines[5:]  # the first facet with a 4th vertex
    path.write_text("".join(four))
    _refused(path, "line 2: facet with 4 vertices, not 3")


# ------------------------------------------------------------------------------------------------ glTF
def _glb(tree: dict, binary: bytes) -> bytes:
    """A GLB of a JSON tree and a BIN chunk (glTF 2.0 section 4.4: chunks padded to 4 bytes)."""
    text = json.dumps(tree).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def _tetra_tree(count: int = 4, extensions: dict | None = None, required=()):
    """A tetrahedron: 4 float32 VEC3 positions (48 bytes) then 12 uint16 indices (24 bytes)."""
    prim = {"attributes": {"POSITION": 0}, "indices": 1}
    if extensions:
        prim["extensions"] = extensions
    tree = {"asset": {"version": "2.0"}, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
            "meshes": [{"primitives": [prim]}], "buffers": [{"byteLength": 72}],
            "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 48},
                            {"buffer": 0, "byteOffset": 48, "byteLength": 24}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": count, "type": "VEC3",
                           "min": [0, 0, 0], "max": [1, 1, 1]},
                          {"bufferView": 1, "componentType": 5123, "count": 12, "type": "SCALAR"}]}
    if required:
        tree["extensionsUsed"] = tree["extensionsRequired"] = list(required)
    binary = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32).tobytes() + \
        np.array([0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3], np.uint16).tobytes()
    return tree, binary


def test_a_glb_loads_and_one_cut_short_or_overcounted_is_refused(tmp_path):
    tree, binary = _tetra_tree()
    path = tmp_path / "tet.glb"
    path.write_bytes(_glb(tree, binary))
    mesh = read_mesh(path)
    assert mesh.faces.shape == (4, 3) and mesh.area == pytest.approx(1.5 + np.sqrt(3) / 2)
    data = _glb(tree, binary)
    path.write_bytes(data[:-20])
    _refused(path, f"its GLB header declares {len(data)} bytes but the file holds {len(data) - 20} (cut short?)")
    tree, binary = _tetra_tree(count=40)  # 40 positions declared in a 48-byte view
    path.write_bytes(_glb(tree, binary))
    _refused(path, "mesh 0 primitive 0 POSITION (accessor 0) declares 40 elements (480 bytes) but its buffer "
                   "view holds 48 bytes")


def test_a_draco_glb_names_its_missing_decoder(tmp_path):
    """Compressed primitives have accessors without buffer views, which trimesh fills with zeros when its
    optional decoder is missing: they must not load as a degenerate mesh."""
    import importlib.util

    draco = {"KHR_draco_mesh_compression": {"bufferView": 0, "attributes": {"POSITION": 0}}}
    tree, binary = _tetra_tree(extensions=draco, required=["KHR_draco_mesh_compression"])
    for accessor in tree["accessors"]:
        del accessor["bufferView"]
    path = tmp_path / "draco.glb"
    path.write_bytes(_glb(tree, binary))
    if importlib.util.find_spec("DracoPy") is None:
        _refused(path, "its meshes are compressed with KHR_draco_mesh_compression, which needs a Draco decoder: "
                       "install the optional package DracoPy (pip install DracoPy), or export the mesh uncompressed")
    tree["extensionsRequired"] = tree["extensionsUsed"] = ["EXT_meshopt_compression"]
    tree["meshes"][0]["primitives"][0]["extensions"] = {"EXT_meshopt_compression": {}}
    path.write_bytes(_glb(tree, binary))
    _refused(path, "its meshes are compressed with EXT_meshopt_compression, which needs a meshoptimizer decoder; "
                   "sketchgen's glTF reader (trimesh) has none (export the mesh uncompressed)")


def test_required_glb_extensions_refused_unless_they_leave_geometry_alone(tmp_path):
    tree, binary = _tetra_tree(required=["KHR_materials_unlit"])
    path = tmp_path / "ext.glb"
    path.write_bytes(_glb(tree, binary))
    assert read_mesh(path).faces.shape == (4, 3)
    tree, binary = _tetra_tree(required=["KHR_mesh_quantization"])
    path.write_bytes(_glb(tree, binary))
    _refused(path, "it requires the glTF extension KHR_mesh_quantization, which sketchgen's glTF reader (trimesh) "
                   "does not read")


def test_a_glb_whose_json_is_not_utf8_is_refused_without_an_encoding_guesser(tmp_path):
    tree, binary = _tetra_tree()
    tree["meshes"][0]["name"] = "XX"
    at = json.dumps(tree).encode().index(b'"XX"') + 1
    path = tmp_path / "latin1.glb"
    path.write_bytes(_glb(tree, binary).replace(b'"XX"', b'"\xe9X"'))  # one Latin-1 byte, same length
    _refused(path, f"its glTF JSON is not UTF-8 (byte {at}), as the glTF specification requires")


# ------------------------------------------------------------------------------------------ command line
def test_the_command_line_exits_2_with_the_one_line_reason(tmp_path):
    data = _ascii_ply()
    path = tmp_path / "cut.ply"
    path.write_bytes(data[:len(data) - 40])
    camera = tmp_path / "camera.json"
    camera.write_text(json.dumps({"position": [0, 0, 4], "look_at": [0, 0, 0], "up": [0, 1, 0], "width": 64,
                                  "height": 64, "yfov_deg": 40}))
    proc = subprocess.run([sys.executable, "-m", "sketchgen.cli", "draw", str(path), "--camera", str(camera),
                           "--out", str(tmp_path / "o.png")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sketchgen draw: error: {path}: its PLY header declares {V} "
                                                   f"vertices and {F} faces but the file holds")
    assert not (tmp_path / "o.png").exists()


def test_an_optional_package_trimesh_lacks_is_named(tmp_path, monkeypatch):
    """Whatever optional package trimesh's reader for a file reaches for, its absence is one line naming
    the package, not a bare "No module named" from deep inside trimesh."""
    from sketchgen.ingest import meshfile

    tree, binary = _tetra_tree()
    path = tmp_path / "tet.glb"
    path.write_bytes(_glb(tree, binary))

    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'somedecoder'", name="somedecoder")

    monkeypatch.setattr(meshfile.trimesh, "load", missing)
    _refused(path, "cannot read this GLB file without the optional package somedecoder (not installed)")


# ----------------------------------------------------------------------------------------- fuzzed files
def _exports():
    """Each format that declares what it holds, as its exporter writes the sphere."""
    ex = trimesh.exchange
    return {"ascii.ply": ex.ply.export_ply(SPHERE, encoding="ascii"),
            "binary.ply": ex.ply.export_ply(SPHERE, encoding="binary"),
            "ascii.stl": ex.stl.export_stl_ascii(SPHERE).encode(), "binary.stl": ex.stl.export_stl(SPHERE),
            "mesh.off": ex.off.export_off(SPHERE).encode(), "mesh.glb": ex.gltf.export_glb(trimesh.Scene(SPHERE))}


@pytest.mark.parametrize("name", sorted(_exports()))
def test_every_cut_of_a_declaring_format_is_refused_in_one_line(tmp_path, name):
    """Cut anywhere past its header (12 cuts spread over the data), a file that declares its counts never
    loads: each cut is an InputError naming the file, never another exception or a smaller mesh. Text
    files are cut between values: a number cut short is still a number, which no reader can tell (an
    ASCII STL can: it must end with endsolid)."""
    data = _exports()[name]
    path = tmp_path / name
    path.write_bytes(data)
    assert len(read_mesh(path).faces) == F
    text = name.startswith("ascii") or name.endswith(".off")
    for cut in np.linspace(len(data) * 0.2, len(data) - 2, 12).astype(int):
        if text and not name.endswith(".stl"):
            cut = max(data.rfind(b" ", 0, cut), data.rfind(b"\n", 0, cut))  # the values before the cut whole
        path.write_bytes(data[:cut])
        with pytest.raises(InputError) as info:
            read_mesh(path)
        message = str(info.value)
        assert message.startswith(f"{path}: ") and "\n" not in message, (cut, message)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy casting a changed NaN inside trimesh's STL reader
@pytest.mark.parametrize("name", sorted(_exports()))
def test_bytes_changed_at_random_give_the_mesh_or_one_line(tmp_path, name):
    """1-3 bytes of the file replaced at random (20 seeded tries): the file loads with every face it
    declares, or is refused with an InputError of one line naming it; no other exception escapes."""
    data = _exports()[name]
    rng = np.random.default_rng(sorted(_exports()).index(name))
    path = tmp_path / name
    for _ in range(20):
        changed = bytearray(data)
        for at in rng.integers(0, len(data), rng.integers(1, 4)):
            changed[at] = int(rng.integers(0, 256))
        path.write_bytes(bytes(changed))
        try:
            assert len(read_mesh(path).faces) == F
        except InputError as exc:
            assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)


def test_an_ascii_ply_row_with_a_changed_byte_is_refused_with_its_line(tmp_path):
    data = _ascii_ply()
    header_lines = data[:data.index(b"end_header")].count(b"\n") + 1
    rows = data.split(b"end_header\n")[1].splitlines(keepends=True)
    rows[V + 7] = rows[V + 7].replace(b" ", b"x", 2)  # face 7: "3 12x40x41" (a letter inside its numbers)
    path = tmp_path / "changed.ply"
    path.write_bytes(data.split(b"end_header\n")[0] + b"end_header\n" + b"".join(rows))
    with pytest.raises(InputError, match=rf"line {header_lines + V + 8}: face 7 is not"):
        read_mesh(path)
