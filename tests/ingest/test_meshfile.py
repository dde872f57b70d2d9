"""read_mesh: file order kept, every kind of bad file refused with its reason; clean_faces counts."""

import struct

import numpy as np
import pytest
import trimesh

from sketchgen.errors import InputError
from sketchgen.ingest.meshfile import read_mesh
from sketchgen.render.cleanup import clean_faces


@pytest.mark.parametrize("ext", ["obj", "ply", "off", "stl", "glb"])
def test_formats_round_trip(tmp_path, ext):
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    path = tmp_path / f"box.{ext}"
    box.export(path)
    mesh = read_mesh(path)
    assert mesh.faces.shape == (12, 3) and mesh.faces.dtype == np.int64
    assert len(mesh.vertices) == 8
    np.testing.assert_allclose(np.ptp(mesh.vertices, axis=0), [1.0, 2.0, 3.0], atol=1e-6)
    assert mesh.area == pytest.approx(22.0, rel=1e-6)


# OBJ files and what the format's spec makes of them: faces 0-based in file order, a polygon fanned from
# its first corner, a negative index counting back from the vertices read so far, and each face in the
# group (g, o) and material (usemtl) last named above it
OBJ_FILES = {
    "groups-between-faces": (
        "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\n"
        "g a\nf 1 2 5\nusemtl m\ng b\nf 1/1/1 2/2/2 3/3/3 4/4/4\nf -1 -2 -3\n",
        [[0, 1, 4], [0, 1, 2], [0, 2, 3], [4, 3, 2]], [0, 1, 1, 2], (["a", "b"], [0, 1, 1, 1]), (["m"], [-1, 0, 0, 0])),
    "comments-colours-late-vertex": (
        "# header\nmtllib x.mtl\nv 0 0 0 1 0 0\nv\t1 0 0\nv 0 1 0 # colourless\nvn 0 0 1\n"
        "o first\nf 1//1 2//1 3//1\ng second\nusemtl red\nv 0 0 1\nf -4 -3 -1\nf 1 2 3 4 # a quad\n",
        [[0, 1, 2], [0, 1, 3], [0, 1, 2], [0, 2, 3]], [0, 1, 2, 2], (["first", "second"], [0, 1, 1, 1]),
        (["red"], [-1, 0, 0, 0])),
}


@pytest.mark.parametrize("name", OBJ_FILES)
def test_obj_faces_in_file_order_with_groups_and_materials(tmp_path, name):
    from sketchgen.ingest.formats.obj import read_obj

    text, faces, polygon, (group_names, groups), (material_names, materials) = OBJ_FILES[name]
    path = tmp_path / f"{name}.obj"
    path.write_text(text)
    obj = read_obj(path)
    mesh = read_mesh(path)
    for got in (obj.faces, mesh.faces):
        np.testing.assert_array_equal(got, faces)
    for got in (obj.polygon, mesh.metadata["file_polygon"]):
        np.testing.assert_array_equal(got, polygon)
    assert obj.group_names == group_names and obj.material_names == material_names
    np.testing.assert_array_equal(obj.groups, groups)
    np.testing.assert_array_equal(obj.materials, materials)


def test_scene_merged(tmp_path):
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box(), transform=trimesh.transformations.translation_matrix([5, 0, 0]))
    scene.add_geometry(trimesh.creation.icosphere(subdivisions=1))
    path = tmp_path / "two.glb"
    scene.export(path)
    mesh = read_mesh(path)
    assert len(mesh.faces) == 12 + 80
    assert mesh.vertices[:, 0].max() == pytest.approx(5.5)


def _bad_files(tmp_path):
    tri_header = ("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                  "property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n")
    files = {
        "empty.ply": (b"", "empty file"),
        "garbage.off": (b"\x00\x01\x02 not a mesh at all" * 20, "cannot parse as OFF (not a text file"),
        "notoff.off": (b"ply\nformat ascii 1.0\n", "cannot parse as OFF"),
        "nan.obj": (b"v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n", "NaN or infinite coordinates (first: the 2nd vertex in the file)"),
        "inf.off": (b"OFF\n3 1 0\n0 0 0\n1 inf 0\n0 1 0\n3 0 1 2\n", "NaN or infinite"),
        "pastend.ply": ((tri_header + "0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n").encode(), "refers to vertex 7"),
        "pastend.obj": (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "refers to vertex 8"),
        "nofaces.obj": (b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", "no faces"),
        "short.stl": (b"\0" * 80 + struct.pack("<I", 12) + b"\0" * 50 * 5, "claims 12 triangles but the file holds 5"),
        "readme.txt": (b"hello", "unsupported mesh format"),
    }
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
    return {name: reason for name, (_, reason) in files.items()}


def test_bad_files_name_file_and_reason(tmp_path):
    for name, reason in _bad_files(tmp_path).items():
        with pytest.raises(InputError) as info:
            read_mesh(tmp_path / name)
        assert name in str(info.value) and reason in str(info.value), str(info.value)
    with pytest.raises(InputError, match="no such file"):
        read_mesh(tmp_path / "missing.obj")


def test_clean_faces_counts_and_remaps():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [2, 0, 0]], float)
    faces = np.array([[0, 1, 2], [1, 2, 0], [0, 0, 3], [0, 1, 3], [0, 1, 4], [3, 1, 0]])
    # [0,1,4] is collinear (zero area): degenerate; [1,2,0] and [3,1,0] duplicate earlier faces
    c = clean_faces(vertices, faces)
    assert (c.degenerate, c.duplicate) == (2, 2)
    np.testing.assert_array_equal(c.keep, [0, 3])
    np.testing.assert_array_equal(c.old_to_new, [0, 0, -1, 1, -1, 1])


def test_obj_errors_name_the_line(tmp_path):
    from sketchgen.ingest.formats.obj import read_obj

    path = tmp_path / "c.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 zero\nf 1 2 3\n")
    with pytest.raises(InputError, match="line 3: vertex coordinates are not numbers"):
        read_obj(path)
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 x\n")
    with pytest.raises(InputError, match="line 4: bad face index 'x'"):
        read_obj(path)
    path.write_text("v 0 0 0\nv 1 0 0\nf 1 2\n")
    with pytest.raises(InputError, match="line 3: face with fewer than 3 vertices"):
        read_obj(path)
