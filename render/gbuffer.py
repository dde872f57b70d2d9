"""G-buffer: per-pixel view depth, face id and face normal of a mesh seen by a camera, over headless EGL.

One OpenGL context per process (``get_renderer()``), created lazily through pyrender's EGL platform
and reused for every mesh, view and image size. The pass is ours rather than pyrender's scene renderer
because pyrender always draws into a 4x multisampled buffer and resolves colour with a linear blit,
which would blend face ids at every triangle edge and read depth off the pixel centre. Here:

- face ids come from ``gl_PrimitiveID`` written to a 32-bit integer attachment: exact, no colour
  packing, no sRGB, no blending, no multisampling;
- depth is the interpolated camera-space ``-z`` written to a float attachment, so a pixel holds the
  view-axis depth of the surface at its centre (j + 0.5, i + 0.5), the same convention as
  ``Camera.world_to_pixels``;
- the projection is ``Camera.projection_matrix()`` and the view is ``Camera.world_to_camera``, so GL
  and ``world_to_pixels`` agree to float32 rounding.

Both sides of every triangle are drawn (open meshes show their back faces). The renderer belongs to
the process, not to a thread: use it from one thread at a time.
"""

from __future__ import annotations

import ctypes
import logging
import weakref
from dataclasses import dataclass

import numpy as np

from sketchgen.errors import InputError
from sketchgen.render.camera import Camera

log = logging.getLogger(__name__)

EGL_PACKAGES = "libegl1 libegl-mesa0 libgl1-mesa-dri"

_VERTEX_SHADER = """#version 330 core
layout(location = 0) in vec3 position;
uniform mat4 world_to_camera;
uniform mat4 projection;
out float view_depth;
void main() {
    vec4 cam = world_to_camera * vec4(position, 1.0);
    view_depth = -cam.z;
    gl_Position = projection * cam;
}
"""

_FRAGMENT_SHADER = """#version 330 core
in float view_depth;
layout(location = 0) out int face_id;
layout(location = 1) out float depth;
void main() {
    face_id = gl_PrimitiveID;
    depth = view_depth;
}
"""


class RenderBackendError(InputError):
    """Headless OpenGL could not be set up; the message says which Debian packages provide it."""


@dataclass(frozen=True)
class GBuffer:
    """What a camera sees of a mesh, one value per pixel (row 0 at the top of the image).

    depth: (H, W) float32 view-axis depth at the pixel centre, inf on background.
    face_id: (H, W) int32 index of the mesh face at the pixel centre, -1 on background.
    normal: (H, W, 3) float32 world-space unit face normal, zeros on background; or None.
    camera: the camera it was rendered with.
    """

    depth: np.ndarray
    face_id: np.ndarray
    normal: np.ndarray | None
    camera: Camera

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool, True where some face covers the pixel centre."""
        return self.face_id >= 0


def face_barycentric(vertices: np.ndarray, faces: np.ndarray, face: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 3) float64 barycentric weights of (N, 3) ``points`` lying on faces ``face`` (N,).

    Points a rounding error off the face are projected onto its plane; weights are clipped to >= 0 and
    renormalised, so the weights always name a point of the triangle.
    """
    tri = np.asarray(vertices, np.float64)[np.asarray(faces)[np.asarray(face, np.int64)]]
    p = np.asarray(points, np.float64).reshape(-1, 3)
    v0, v1 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    v2 = p - tri[:, 0]
    d00 = (v0 * v0).sum(1)
    d01 = (v0 * v1).sum(1)
    d11 = (v1 * v1).sum(1)
    d20 = (v2 * v0).sum(1)
    d21 = (v2 * v1).sum(1)
    den = d00 * d11 - d01 * d01
    den = np.where(np.abs(den) > 1e-300, den, 1e-300)
    b1 = (d11 * d20 - d01 * d21) / den
    b2 = (d00 * d21 - d01 * d20) / den
    bary = np.clip(np.stack([1.0 - b1 - b2, b1, b2], axis=1), 0.0, None)
    return bary / np.maximum(bary.sum(1, keepdims=True), 1e-300)


class GBufferRenderer:
    """Renders G-buffers in this process's single EGL context. Get it from ``get_renderer()``."""

    def __init__(self):
        self._platform = None
        self._program = None
        self._uniforms = {}
        self._targets: dict[tuple[int, int], tuple] = {}
        self._meshes: dict[int, tuple] = {}  # id(mesh) -> (key, vao, vbo, ebo, n_faces)
        self._dead: list[int] = []  # ids of collected meshes whose buffers await deletion
        self._create_context()

    # ------------------------------------------------------------------ public
    def render(self, mesh, camera: Camera, *, normals: bool = True) -> GBuffer:
        """G-buffer of ``mesh`` (a trimesh.Trimesh in world coordinates) seen by ``camera``."""
        from OpenGL import GL

        self._make_current()
        self._collect()
        vertices = np.asarray(mesh.vertices, dtype=np.float64).reshape(-1, 3)
        if len(vertices):  # clip planes the camera leaves out: fitted to this mesh
            camera = camera.fitted(vertices.min(axis=0), vertices.max(axis=0))
        vao, n_faces = self._upload(mesh)
        fbo = self._target(camera.width, camera.height)
        w, h = camera.width, camera.height
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        GL.glViewport(0, 0, w, h)
        GL.glDisable(GL.GL_MULTISAMPLE)
        GL.glDisable(GL.GL_BLEND)
        GL.glDisable(GL.GL_CULL_FACE)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glClearBufferiv(GL.GL_COLOR, 0, np.array([-1, 0, 0, 0], dtype=np.int32))
        GL.glClearBufferfv(GL.GL_COLOR, 1, np.array([np.inf, 0, 0, 0], dtype=np.float32))
        GL.glClearBufferfv(GL.GL_DEPTH, 0, np.array([1.0], dtype=np.float32))
        if n_faces:
            GL.glUseProgram(self._program)
            # GL wants column-major: pass the row-major matrices transposed
            GL.glUniformMatrix4fv(self._uniforms["world_to_camera"], 1, GL.GL_TRUE,
                                  camera.world_to_camera.astype(np.float32))
            GL.glUniformMatrix4fv(self._uniforms["projection"], 1, GL.GL_TRUE,
                                  camera.projection_matrix().astype(np.float32))
            GL.glBindVertexArray(vao)
            GL.glDrawElements(GL.GL_TRIANGLES, 3 * n_faces, GL.GL_UNSIGNED_INT, ctypes.c_void_p(0))
            GL.glBindVertexArray(0)
        face_id = np.empty((h, w), dtype=np.int32)
        depth = np.empty((h, w), dtype=np.float32)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT0)
        GL.glReadPixels(0, 0, w, h, GL.GL_RED_INTEGER, GL.GL_INT, face_id)
        GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT1)
        GL.glReadPixels(0, 0, w, h, GL.GL_RED, GL.GL_FLOAT, depth)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        # GL's row 0 is the bottom of the image; ours is the top
        face_id = np.ascontiguousarray(face_id[::-1])
        depth = np.ascontiguousarray(depth[::-1])
        normal = None
        if normals:
            table = np.vstack([np.asarray(mesh.face_normals, dtype=np.float32),
                               np.zeros((1, 3), np.float32)])
            normal = table[face_id]  # -1 picks the appended zero row
        return GBuffer(depth=depth, face_id=face_id, normal=normal, camera=camera)

    def render_triangles(self, vertices, faces, camera: Camera, *, normals: bool = False) -> GBuffer:
        """G-buffer of loose geometry: (V, 3) float world vertices and (F, 3) int faces (markers, tests)."""
        import trimesh

        mesh = trimesh.Trimesh(np.asarray(vertices, float), np.asarray(faces, np.int64), process=False)
        return self.render(mesh, camera, normals=normals)

    # ------------------------------------------------------------------ GL set-up
    def _make_current(self):
        """Make our context current, building a new one if it was lost.

        pyrender's own OffscreenRenderer.delete() terminates the shared EGL display, which destroys
        this context too; everything uploaded is then gone and is uploaded again on demand.
        """
        try:
            self._platform.make_current()
            return
        except Exception as exc:  # EGL_BAD_DISPLAY / EGL_BAD_CONTEXT after someone terminated the display
            log.info("EGL context lost (%s); creating a new one", type(exc).__name__)
        self._targets.clear()
        self._meshes.clear()
        self._dead.clear()
        self._create_context()

    def _create_context(self):
        try:
            from pyrender.platforms import egl
            from OpenGL import GL

            from sketchgen.render.devices import egl_device_index

            device = egl.get_device_by_index(egl_device_index())  # EGL_DEVICE_ID, else round-robin over GPUs
            platform = egl.EGLPlatform(1, 1, device=device)
            platform.init_context()
            platform.make_current()
            self._platform = platform
            self._program = _link_program(GL)
        except InputError:
            raise
        except Exception as exc:  # any failure here means no usable headless GL
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise RenderBackendError(
                f"headless OpenGL (EGL) is unavailable: install Debian's {EGL_PACKAGES} ({reason})"
            ) from None
        for name in ("world_to_camera", "projection"):
            self._uniforms[name] = GL.glGetUniformLocation(self._program, name)
        log.info("EGL context ready: %s", GL.glGetString(GL.GL_RENDERER))

    def _target(self, width: int, height: int):
        """Framebuffer for one image size, made on first use and kept."""
        from OpenGL import GL

        key = (width, height)
        if key in self._targets:
            return self._targets[key][0]
        fbo = GL.glGenFramebuffers(1)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        ids, depth, zbuf = GL.glGenRenderbuffers(3)
        for rb, fmt, attach in ((ids, GL.GL_R32I, GL.GL_COLOR_ATTACHMENT0),
                                (depth, GL.GL_R32F, GL.GL_COLOR_ATTACHMENT1),
                                (zbuf, GL.GL_DEPTH_COMPONENT32F, GL.GL_DEPTH_ATTACHMENT)):
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rb)
            GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, fmt, width, height)
            GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, attach, GL.GL_RENDERBUFFER, rb)
        GL.glDrawBuffers(2, [GL.GL_COLOR_ATTACHMENT0, GL.GL_COLOR_ATTACHMENT1])
        status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        if status != GL.GL_FRAMEBUFFER_COMPLETE:
            raise RenderBackendError(f"headless OpenGL (EGL) cannot make a {width}x{height} framebuffer "
                                     f"(status {status}); install Debian's {EGL_PACKAGES}")
        self._targets[key] = (fbo, (ids, depth, zbuf))
        return fbo

    def _upload(self, mesh) -> tuple[int, int]:
        """VAO of ``mesh``, uploaded once per mesh object and again only if its arrays changed."""
        from OpenGL import GL

        key = (hash(mesh.vertices), hash(mesh.faces))  # trimesh caches these until the arrays change
        entry = self._meshes.get(id(mesh))
        if entry is not None and entry[0] == key:
            return entry[1], entry[4]
        if entry is not None:
            self._delete(id(mesh))
        vertices = np.ascontiguousarray(mesh.vertices, dtype=np.float32)
        faces = np.ascontiguousarray(mesh.faces, dtype=np.uint32)
        vao = GL.glGenVertexArrays(1)
        vbo, ebo = GL.glGenBuffers(2)
        GL.glBindVertexArray(vao)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, vbo)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, vertices.nbytes, vertices, GL.GL_STATIC_DRAW)
        GL.glEnableVertexAttribArray(0)
        GL.glVertexAttribPointer(0, 3, GL.GL_FLOAT, GL.GL_FALSE, 12, ctypes.c_void_p(0))
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, ebo)
        GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, faces.nbytes, faces, GL.GL_STATIC_DRAW)
        GL.glBindVertexArray(0)
        if entry is None:
            # free the GL buffers (at the next render, when the context is current) once the mesh dies
            weakref.finalize(mesh, self._dead.append, id(mesh))
        self._meshes[id(mesh)] = (key, vao, vbo, ebo, len(faces))
        return vao, len(faces)

    def _collect(self):
        while self._dead:
            self._delete(self._dead.pop())

    def _delete(self, mesh_id: int):
        from OpenGL import GL

        entry = self._meshes.pop(mesh_id, None)
        if entry is not None:
            GL.glDeleteVertexArrays(1, [entry[1]])
            GL.glDeleteBuffers(2, [entry[2], entry[3]])


def _link_program(GL) -> int:
    program = GL.glCreateProgram()
    for kind, source in ((GL.GL_VERTEX_SHADER, _VERTEX_SHADER), (GL.GL_FRAGMENT_SHADER, _FRAGMENT_SHADER)):
        shader = GL.glCreateShader(kind)
        GL.glShaderSource(shader, source)
        GL.glCompileShader(shader)
        if not GL.glGetShaderiv(shader, GL.GL_COMPILE_STATUS):
            raise RuntimeError(GL.glGetShaderInfoLog(shader).decode(errors="replace"))
        GL.glAttachShader(program, shader)
    GL.glLinkProgram(program)
    if not GL.glGetProgramiv(program, GL.GL_LINK_STATUS):
        raise RuntimeError(GL.glGetProgramInfoLog(program).decode(errors="replace"))
    return program


_RENDERER: GBufferRenderer | None = None


def get_renderer() -> GBufferRenderer:
    """The process's one G-buffer renderer, created on first call (raises RenderBackendError without EGL)."""
    global _RENDERER
    if _RENDERER is None:
        _RENDERER = GBufferRenderer()
    return _RENDERER
