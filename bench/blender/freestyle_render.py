"""Blender Freestyle reference drawings and projections for sketchgen's agreement check.

Run inside Blender (Debian's ``blender`` package, 3.4), never imported by sketchgen::

    blender -b --factory-startup --python bench/blender/freestyle_render.py -- \
        --mesh MESH.obj --cameras CAMERAS.json --out OUT.png \
        [--points POINTS.json] [--crease-angle-deg 135] [--thickness 1.0] [--samples 1]
        [--smooth [--auto-smooth-deg A]] [--no-lines]

MESH: OBJ (read here by a minimal ``v``/``f`` reader, so no importer applies an axis conversion) or
PLY (Blender's importer, which keeps the file's axes). It is placed in its own coordinates.
CAMERAS.json: one sketchgen camera or a list of them (the JSON form documented in render/camera.py:
``pose`` or position/look_at/up, ``yfov_deg`` or ``ortho_scale`` = half the visible height, width,
height, optional znear/zfar). The look-at maths is re-done here on purpose, so the check shares no
code with sketchgen.
For camera k it writes ``OUT_kkk.png`` (W x H, white background, black Freestyle silhouette + border +
crease lines of the given thickness, hidden lines removed) and ``OUT.json``::

    {"blender": "3.4.1", "views": [{"png": ..., "seconds": render wall time, "cpu_seconds": its
                                    CPU time (all threads), "xy": [[x, y], ...], "depth": [...]}, ...]}

where xy/depth are ``bpy_extras.object_utils.world_to_camera_view`` of POINTS (a JSON list of
[x, y, z]) converted to sketchgen pixels: x_px = x * W, y_px = (1 - y) * H (y down, origin at the
top-left corner), depth = distance along the view axis.

Smooth meshes (``--smooth``): faces are shaded smooth and Freestyle's face smoothness is on, so
silhouettes are the interpolated zero crossings of n.v. Freestyle's crease test compares the two
faces' normals *at the edge's vertex* (FEdgeXDetector::ProcessCreaseEdge), which on smooth-shaded
faces are one shared averaged normal: without split normals a smooth mesh has no creases at all.
Auto Smooth at 180 - crease angle (45 degrees by default) splits the normals exactly at the edges
sketchgen calls creases, so both draw the same set.

Rendering uses Cycles on the CPU (denoising off: Debian's build has no OpenImageDenoise) with a
holdout material on the mesh and a transparent film, composited over white, Standard view transform:
the only dark pixels are Freestyle's strokes. With Workbench or EEVEE as the scene's engine, Freestyle
renders its strokes with EEVEE, which takes about 2 s per view on a GL-less machine. One sample
through a near-zero box filter (the default) samples each pixel at its centre.
"""

import argparse
import json
import math
import os
import sys
import time

import bpy
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Matrix, Vector


def parse_args(argv):
    p = argparse.ArgumentParser(prog="freestyle_render.py")
    p.add_argument("--mesh", required=True)
    p.add_argument("--cameras", required=True)
    p.add_argument("--out", required=True, help="OUT.png: views go to OUT_000.png ..., results to OUT.json")
    p.add_argument("--points", help="JSON list of [x, y, z] world points to project")
    p.add_argument("--crease-angle-deg", type=float, default=135.0,
                   help="Freestyle crease angle: the angle BETWEEN faces below which an edge is a crease")
    p.add_argument("--thickness", type=float, default=1.0, help="line thickness in pixels")
    p.add_argument("--smooth", action="store_true",
                   help="shade faces smooth and let Freestyle use face smoothness (interpolated silhouettes)")
    p.add_argument("--samples", type=int, default=1,
                   help="Cycles samples per pixel: 1 samples pixel centres, more give anti-aliased coverage")
    p.add_argument("--auto-smooth-deg", type=float,
                   help="with --smooth: split vertex normals at edges whose face normals differ by more than "
                        "this (Blender's Auto Smooth); default 180 - crease angle, so that creases are found")
    p.add_argument("--no-lines", action="store_true", help="render without Freestyle (baseline timing)")
    return p.parse_args(argv)


def clear_scene():
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj, do_unlink=True)


def read_obj(path):
    """Vertices and polygons of an OBJ (``v`` and ``f`` records; 1-based, negative indices allowed)."""
    verts, polys = [], []
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "v":
                verts.append(tuple(float(c) for c in parts[1:4]))
            elif parts[0] == "f":
                idx = []
                for token in parts[1:]:
                    i = int(token.split("/")[0])
                    idx.append(i - 1 if i > 0 else len(verts) + i)
                polys.append(idx)
    return verts, polys


def load_mesh(path, smooth, auto_smooth_deg=None):
    ext = os.path.splitext(path)[1].lower()
    if ext == ".obj":
        verts, polys = read_obj(path)
        mesh = bpy.data.meshes.new("mesh")
        mesh.from_pydata(verts, [], polys)
        mesh.validate()
        mesh.update()
        obj = bpy.data.objects.new("mesh", mesh)
        bpy.context.scene.collection.objects.link(obj)
    elif ext == ".ply":
        before = set(bpy.data.objects)
        bpy.ops.import_mesh.ply(filepath=path)
        obj = next(o for o in bpy.data.objects if o not in before)
        obj.matrix_world = Matrix.Identity(4)
    else:
        raise SystemExit(f"{path}: unsupported mesh format (OBJ or PLY)")
    for poly in obj.data.polygons:
        poly.use_smooth = smooth
    if auto_smooth_deg is not None:
        obj.data.use_auto_smooth = True
        obj.data.auto_smooth_angle = math.radians(auto_smooth_deg)
    # A holdout surface renders fully transparent: the only opaque pixels are Freestyle's strokes.
    material = bpy.data.materials.new("holdout")
    material.use_nodes = True
    nodes = material.node_tree.nodes
    nodes.clear()
    holdout = nodes.new("ShaderNodeHoldout")
    output = nodes.new("ShaderNodeOutputMaterial")
    material.node_tree.links.new(holdout.outputs[0], output.inputs["Surface"])
    obj.data.materials.clear()
    obj.data.materials.append(material)
    return obj


def camera_pose(cam):
    """4x4 camera-to-world Matrix from a sketchgen camera dict (-Z forward, +Y up)."""
    if "pose" in cam:
        return Matrix(cam["pose"])
    eye, target, up = Vector(cam["position"]), Vector(cam["look_at"]), Vector(cam["up"])
    z_axis = (eye - target).normalized()
    x_axis = up.cross(z_axis).normalized()
    y_axis = z_axis.cross(x_axis)
    pose = Matrix.Identity(4)
    for row in range(3):
        pose[row][0], pose[row][1], pose[row][2], pose[row][3] = x_axis[row], y_axis[row], z_axis[row], eye[row]
    return pose


def set_camera(scene, cam_obj, cam):
    """Make Blender's camera and render size match a sketchgen camera exactly."""
    width, height = int(cam["width"]), int(cam["height"])
    render = scene.render
    render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
    render.pixel_aspect_x = render.pixel_aspect_y = 1.0
    data = cam_obj.data
    data.sensor_fit = "VERTICAL"  # sketchgen's FOV / ortho scale are vertical, whatever the aspect
    data.shift_x = data.shift_y = 0.0
    data.clip_start = float(cam.get("znear", 0.01))
    data.clip_end = float(cam.get("zfar", 100.0))
    if "ortho_scale" in cam:
        data.type = "ORTHO"
        # Blender's ortho_scale is the full extent along the fitted (here vertical) side;
        # sketchgen's is half the visible height.
        data.ortho_scale = 2.0 * float(cam["ortho_scale"])
    else:
        data.type = "PERSP"
        data.sensor_height = 24.0
        data.lens = data.sensor_height / (2.0 * math.tan(math.radians(float(cam["yfov_deg"])) / 2.0))
    cam_obj.matrix_world = camera_pose(cam)


def configure_render(scene, args):
    render = scene.render
    render.engine = "CYCLES"
    cycles = scene.cycles
    cycles.device = "CPU"
    cycles.samples = args.samples
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = False  # Debian's build has no OpenImageDenoise
    cycles.max_bounces = 0
    cycles.seed = 0
    # One sample through a near-zero box filter samples each pixel at its centre: a pixel is a line
    # pixel when its centre lies under a stroke. More samples with a 1 px box give area coverage.
    cycles.pixel_filter_type = "BOX"
    cycles.filter_width = 0.01 if args.samples == 1 else 1.0
    render.film_transparent = True
    render.use_freestyle = not args.no_lines
    render.line_thickness_mode = "ABSOLUTE"
    render.line_thickness = 1.0
    render.image_settings.file_format = "PNG"
    render.image_settings.color_mode = "BW"
    render.image_settings.color_depth = "8"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    # Composite the transparent render (strokes only) over white, so the PNG reads like sketchgen's.
    scene.use_nodes = True
    tree = scene.node_tree
    tree.nodes.clear()
    layers = tree.nodes.new("CompositorNodeRLayers")
    over = tree.nodes.new("CompositorNodeAlphaOver")
    over.inputs[1].default_value = (1.0, 1.0, 1.0, 1.0)
    composite = tree.nodes.new("CompositorNodeComposite")
    tree.links.new(layers.outputs["Image"], over.inputs[2])
    tree.links.new(over.outputs[0], composite.inputs["Image"])

    layer = scene.view_layers[0]
    fs = layer.freestyle_settings
    fs.mode = "EDITOR"
    fs.crease_angle = math.radians(args.crease_angle_deg)
    fs.use_smoothness = bool(args.smooth)
    fs.use_culling = False
    fs.use_suggestive_contours = False
    fs.use_ridges_and_valleys = False
    fs.use_material_boundaries = False
    fs.as_render_pass = False
    for extra in list(fs.linesets)[1:]:
        fs.linesets.remove(extra)
    lineset = fs.linesets[0]
    lineset.show_render = True
    lineset.select_by_visibility = True
    lineset.visibility = "VISIBLE"
    lineset.select_by_edge_types = True
    lineset.select_by_collection = False
    lineset.select_by_face_marks = False
    lineset.select_by_image_border = True
    for kind in ("silhouette", "border", "crease"):
        setattr(lineset, "select_" + kind, True)
    for kind in ("ridge_valley", "suggestive_contour", "material_boundary", "contour",
                 "external_contour", "edge_mark"):
        setattr(lineset, "select_" + kind, False)
    style = lineset.linestyle
    style.color = (0.0, 0.0, 0.0)
    style.alpha = 1.0
    style.thickness = args.thickness
    style.thickness_position = "CENTER"
    style.caps = "BUTT"
    style.use_dashed_line = False


def main(argv):
    args = parse_args(argv)
    scene = bpy.context.scene
    clear_scene()
    auto_smooth = args.auto_smooth_deg
    if args.smooth and auto_smooth is None:
        auto_smooth = 180.0 - args.crease_angle_deg
    load_mesh(args.mesh, args.smooth, auto_smooth if args.smooth else None)
    with open(args.cameras) as fh:
        cams = json.load(fh)
    if isinstance(cams, dict):
        cams = [cams]
    points = []
    if args.points:
        with open(args.points) as fh:
            points = [Vector(p) for p in json.load(fh)]

    cam_obj = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    scene.collection.objects.link(cam_obj)
    scene.camera = cam_obj
    configure_render(scene, args)

    stem, _ = os.path.splitext(args.out)
    views = []
    for k, cam in enumerate(cams):
        set_camera(scene, cam_obj, cam)
        bpy.context.view_layer.update()
        png = f"{stem}_{k:03d}.png"
        scene.render.filepath = png
        start, cpu_start = time.perf_counter(), time.process_time()
        bpy.ops.render.render(write_still=True)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        width, height = scene.render.resolution_x, scene.render.resolution_y
        xy, depth = [], []
        for p in points:
            ndc = world_to_camera_view(scene, cam_obj, p)
            xy.append([ndc.x * width, (1.0 - ndc.y) * height])
            depth.append(ndc.z)
        views.append({"png": png, "seconds": seconds, "cpu_seconds": cpu_seconds, "xy": xy, "depth": depth})

    result = {"blender": bpy.app.version_string, "views": views}
    tmp = stem + ".json.tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh)
    os.replace(tmp, stem + ".json")


if __name__ == "__main__":
    main(sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else [])
