"""Wavefront MTL material libraries (the ``mtllib`` files of OBJ meshes: ShapeNet, PartNet-Mobility).

Read: ``newmtl``, ``Kd`` (diffuse colour), ``Ks`` (specular colour), ``Ns`` (specular exponent), ``d`` /
``Tr`` (opacity), ``map_Kd`` (diffuse texture: its options such as ``-s 1 1 1`` skipped, the rest of the
line the file name, spaces included), and the PBR extension's ``Pr`` (roughness) and ``Pm`` (metallic). Other statements
are ignored. Specification: Wavefront "MTL material format" (Alias|Wavefront, 1995); PBR extension as
written by Blender and tinyobjloader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sketchgen.errors import InputError
from sketchgen.ingest.formats.text import read_lines


@dataclass(frozen=True)
class MtlMaterial:
    """One ``newmtl`` block. diffuse, specular: (r, g, b) in [0, 1] as written; shininess: ``Ns``
    (0-1000); opacity: ``d`` (or 1 - ``Tr``); roughness, metallic: ``Pr``, ``Pm`` when given;
    texture: ``map_Kd`` resolved against the MTL file's folder, or None."""

    name: str
    diffuse: tuple[float, float, float] = (0.8, 0.8, 0.8)
    specular: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shininess: float = 0.0
    opacity: float = 1.0
    roughness: float | None = None
    metallic: float | None = None
    texture: Path | None = None

    def pbr(self) -> tuple[float, float]:
        """(roughness, metallic): ``Pr``/``Pm`` when given, else roughness from the Phong exponent by
        Beckmann's correspondence alpha = sqrt(2 / (Ns + 2)) (Walter et al. 2007), roughness = sqrt(alpha)."""
        rough = self.roughness
        if rough is None:
            rough = (2.0 / (max(self.shininess, 0.0) + 2.0)) ** 0.25
        return float(min(max(rough, 0.0), 1.0)), float(min(max(self.metallic or 0.0, 0.0), 1.0))


def read_mtl(path: str | Path) -> dict[str, MtlMaterial]:
    """{name: MtlMaterial} of an MTL file. Raises InputError naming the file and line for a number that
    does not parse or a statement before the first ``newmtl``."""
    path = Path(path)
    out: dict[str, MtlMaterial] = {}
    current: dict | None = None

    def close():
        if current is not None:
            out[current["name"]] = MtlMaterial(**current)

    for lineno, raw in enumerate(read_lines(path, "MTL"), start=1):
        parts = raw.strip().split()
        if not parts or parts[0].startswith("#"):
            continue
        tag, args = parts[0], parts[1:]
        if tag == "newmtl":
            close()
            current = {"name": " ".join(args)}
            continue
        if tag not in ("Kd", "Ks", "Ns", "d", "Tr", "Pr", "Pm", "map_Kd"):
            continue
        if current is None:
            raise InputError(f"{path}: line {lineno}: {tag} before any newmtl")
        if tag == "map_Kd":
            name = _map_file(raw.strip()[len(tag):].strip())
            if name:
                current["texture"] = path.parent / name.replace("\\", "/")
            continue
        try:
            values = [float(a) for a in args]
        except ValueError:
            raise InputError(f"{path}: line {lineno}: {tag} values are not numbers") from None
        if not values:
            raise InputError(f"{path}: line {lineno}: {tag} without a value")
        if tag in ("Kd", "Ks"):
            rgb = (values * 3)[:3] if len(values) < 3 else values[:3]
            current["diffuse" if tag == "Kd" else "specular"] = tuple(min(max(v, 0.0), 1.0) for v in rgb)
        elif tag == "Ns":
            current["shininess"] = values[0]
        elif tag == "d":
            current["opacity"] = values[0]
        elif tag == "Tr":
            current["opacity"] = 1.0 - values[0]
        elif tag == "Pr":
            current["roughness"] = values[0]
        else:
            current["metallic"] = values[0]
    close()
    return out


def _map_file(text: str) -> str:
    """The file name of a ``map_*`` statement's arguments: leading options (``-name`` and the numbers or
    on/off after it) skipped, the rest kept whole (names may hold spaces)."""
    tokens = text.split()
    k = 0
    while k < len(tokens) and tokens[k].startswith("-") and not _number(tokens[k]):
        k += 1
        while k < len(tokens) - 1 and (_number(tokens[k]) or tokens[k] in ("on", "off")):
            k += 1
    if k >= len(tokens):
        return ""
    # the name is the rest of the line from its first token (keeping its inner spacing)
    return text[text.index(tokens[k], sum(len(t) for t in tokens[:k])):].strip()


def _number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
