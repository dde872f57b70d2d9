"""A mesh's own materials and textures reach the photo: MTL and OBJ texture coordinates read to the
spec, a UV-mapped texel lands at the pixel the geometry puts it, missing files are noted, background
photo folders are scanned with their bad files named."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from sketchgen.errors import InputError

# a quad in the z = 0 plane, 1 x 1 units, written as one 4-gon with vt indices, plus a second object
# (a triangle without texture coordinates) in another material
OBJ = """mtllib quad.mtl
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
v 0.2 -0.6 0
v 0.8 -0.6 0
v 0.5 -0.2 0
vt 0 0
vt 1 0
vt 1 1
vt 0 1
usemtl textured
f 1/-4 2/-3 3/-2 4/-1
usemtl plain
f 5 6 7
"""
MTL = """newmtl textured
Kd 1 1 1
Ns 10
map_Kd -s 1 1 1 tex.png
newmtl plain
Kd 0.5 0.25 1.0
Pr 0.3
Pm 1
"""
TEXEL = (1, 2)  # (row, column) of the red texel in the 4 x 4 texture


def _write(folder: Path, texture: bool = True) -> Path:
    (folder / "quad.obj").write_text(OBJ)
    (folder / "quad.mtl").write_text(MTL)
    if texture:
        image = np.full((4, 4, 3), 128, np.uint8)
        image[TEXEL] = (0, 0, 255)  # BGR: red
        cv2.imwrite(str(folder / "tex.png"), image)
    return folder / "quad.obj"


def test_mtl_is_read_to_the_spec(tmp_path):
    from sketchgen.ingest.formats.mtl import read_mtl

    _write(tmp_path)
    mats = read_mtl(tmp_path / "quad.mtl")
    assert mats["textured"].texture == tmp_path / "tex.png"
    # Ns 10 -> Beckmann alpha sqrt(2 / 12), roughness its square root
    assert mats["textured"].pbr() == pytest.approx(((2.0 / 12.0) ** 0.25, 0.0))
    assert mats["plain"].diffuse == (0.5, 0.25, 1.0) and mats["plain"].pbr() == (0.3, 1.0)
    # options skipped, a file name with a space kept whole (trimesh's fuze.obj.mtl: "map_Kd fuze uv.jpg")
    (tmp_path / "spaced.mtl").write_text("newmtl s\nmap_Kd -clamp on -o 0.5 0.5 fuze uv.jpg\n")
    assert read_mtl(tmp_path / "spaced.mtl")["s"].texture == tmp_path / "fuze uv.jpg"
    (tmp_path / "bad.mtl").write_text("newmtl a\nKd 1 x 1\n")
    with pytest.raises(InputError, match=r"bad.mtl: line 2: Kd"):
        read_mtl(tmp_path / "bad.mtl")


def test_obj_texcoords_follow_the_triangulated_faces(tmp_path):
    from sketchgen.ingest.formats.obj import read_obj, read_obj_texcoords

    path = _write(tmp_path)
    obj, tex = read_obj(path), read_obj_texcoords(path)
    assert tex.mtllibs == ["quad.mtl"] and len(tex.face_texcoords) == len(obj.faces) == 3
    # on the quad, vt k belongs to vertex k: each corner's UV is its vertex's (x, y)
    for f in range(2):
        assert np.allclose(tex.texcoords[tex.face_texcoords[f]], obj.vertices[obj.faces[f]][:, :2])
    assert np.all(tex.face_texcoords[2] == -1)


def test_a_uv_mapped_texel_lands_at_its_pixel(tmp_path):
    from sketchgen.ingest.loaders import load_partmesh
    from sketchgen.ingest.materials import shape_appearance
    from sketchgen.render.camera import Camera
    from sketchgen.render.gbuffer import get_renderer
    from sketchgen.render.photo import PhotoConfig, render_photo

    shape = load_partmesh(_write(tmp_path))
    look, notes = shape_appearance(shape)
    assert notes == [] and look is not None
    names = [m.name for m in look.materials]
    assert [names[k] for k in look.face_material] == ["textured", "textured", "plain"]
    assert look.materials[names.index("plain")].metallic == 1.0
    camera = Camera.looking_at((0.0, 0.0, 3.0), (0.0, 0.0, 0.0), width=128, height=128, ortho_scale=1.0)
    gb = get_renderer().render(shape.trimesh, camera, normals=False)
    image = render_photo(shape, gb, np.random.default_rng(0), PhotoConfig(noise=(0.0, 0.0), ao_rays=0),
                         appearance=look).astype(float)
    # the texel's centre: u = (j + 0.5) / 4, v = 1 - (i + 0.5) / 4; on this quad (u, v) = file (x, y)
    i, j = TEXEL
    centre = shape.from_file_coords(np.array([[(j + 0.5) / 4, 1.0 - (i + 0.5) / 4, 0.0]]))
    expected, _ = camera.world_to_pixels(centre)
    red = np.clip(image[..., 0] - image[..., 1:].mean(axis=2), 0.0, None) * gb.mask
    strong = red > 0.5 * red.max()
    ys, xs = np.nonzero(strong)
    weights = red[strong]
    found = np.array([(xs + 0.5) @ weights, (ys + 0.5) @ weights]) / weights.sum()
    assert np.abs(found - expected[0]).max() < 0.75
    # the texel is a quarter of the quad's side: 1/4 x the quad's projected width, in pixels
    side = camera.world_to_pixels(shape.from_file_coords(np.array([[0.0, 0, 0], [1.0, 0, 0]])))[0]
    assert abs((xs.max() - xs.min() + 1) - 0.25 * (side[1, 0] - side[0, 0])) <= 3


def test_a_missing_texture_is_noted_and_the_colour_kept(tmp_path):
    from sketchgen.ingest.loaders import load_partmesh
    from sketchgen.ingest.materials import shape_appearance

    look, notes = shape_appearance(load_partmesh(_write(tmp_path, texture=False)))
    assert len(notes) == 1 and "tex.png" in notes[0] and "keeps its Kd colour" in notes[0]
    assert all(m.texture is None for m in look.materials)


@pytest.mark.skipif(not Path("../shared/corpus/partnet_mobility/bottle_3763").is_dir(),
                    reason="PartNet-Mobility corpus not present")
def test_partnet_mobility_materials_come_from_its_mtl_files():
    from sketchgen.ingest.loaders import load_partmesh
    from sketchgen.ingest.materials import shape_appearance
    from sketchgen.render.textures import srgb_to_linear

    shape = load_partmesh(Path("../shared/corpus/partnet_mobility/bottle_3763"))
    look, notes = shape_appearance(shape)
    assert notes == [] and np.all(look.face_material >= 0)
    # every leaf of the bottle says Kd 0.8 0.6392 0.1569 (sRGB)
    assert np.allclose(look.materials[0].colour, srgb_to_linear([0.8, 0.6392156862745098, 0.1568627450980392]))


def test_background_folder_scan_names_bad_files(tmp_path):
    from sketchgen.datagen.backgrounds import load_background, scan_backgrounds

    photo = np.random.default_rng(0).integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "b.png"), photo[..., ::-1])
    cv2.imwrite(str(tmp_path / "a.jpg"), photo[..., ::-1])
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "empty.png").write_bytes(b"")
    scan = scan_backgrounds(tmp_path)
    assert scan.files == ("a.jpg", "b.png")
    line = scan.report()
    assert "\n" not in line and "2 of 4 files" in line and "notes.txt" in line and "empty.png (empty file)" in line
    assert np.array_equal(load_background(scan.folder, "b.png", 64), photo)
    # a large photo is kept at twice the render's size on its short side
    assert min(load_background(scan.folder, "b.png", 10).shape[:2]) == 20
    (tmp_path / "b.png").write_bytes(b"changed")
    assert scan_backgrounds(tmp_path).sha256 != scan.sha256
    for f in ("a.jpg", "b.png"):
        (tmp_path / f).unlink()
    with pytest.raises(InputError, match="holds no readable image"):
        scan_backgrounds(tmp_path)
