import cv2
import numpy as np

from sketchgen.cli.gallery import AZIMUTHS_DEG, SIZE_PX, draw_gallery, gallery_meshes


def test_gallery_writes_drawings_and_a_contact_sheet(tmp_path):
    sheet = draw_gallery(tmp_path / "demo")
    names = list(gallery_meshes())
    assert sheet == tmp_path / "demo" / "contact_sheet.png"
    pngs = sorted(p for p in sheet.parent.glob("*.png") if p != sheet)
    assert len(pngs) == len(names) * (len(AZIMUTHS_DEG) + 1)
    for png in pngs:
        image = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        assert image.shape == (SIZE_PX, SIZE_PX)
        assert 50 < (image < 128).sum() < 0.2 * image.size  # lines, not a blank or a filled image
        assert png.with_suffix(".svg").read_text().count("<polyline") + \
            png.with_suffix(".svg").read_text().count("<path") >= 1
    page = cv2.imread(str(sheet), cv2.IMREAD_UNCHANGED)
    assert page.shape[0] > len(names) * SIZE_PX and page.shape[1] > (len(AZIMUTHS_DEG) + 1) * SIZE_PX
    assert np.any(page < 128)
