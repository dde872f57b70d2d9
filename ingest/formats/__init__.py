"""Readers for the file formats sketchgen parses itself (where trimesh reorders faces or drops names)."""
