"""sketchgen's renderer: cameras, G-buffers, object-space lines, strokes and their rasterisation, and shading
over the G-buffer (``shading``).

Never imports ``ingest``, ``datagen``, ``train`` or ``cli`` (``tests/test_layers.py``).
"""

import os

# pyrender/PyOpenGL pick their platform when OpenGL is first imported: headless EGL unless told otherwise.
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
# pyrender's import loads pyglet's viewer, whose X11 bindings fail where libXrender is missing (a GPU
# server, a slim container); headless pyglet takes EGL too (seen on an NVIDIA H200 machine)
os.environ.setdefault("PYGLET_HEADLESS", "1")
