"""sketchgen's renderer: cameras, G-buffers, object-space lines, strokes and their rasterisation, and shading
over the G-buffer (``shading``).

Never imports ``datagen`` or ``train``.
"""

import os

# pyrender/PyOpenGL pick their platform when OpenGL is first imported: headless EGL unless told otherwise.
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
