import numpy as np
import pytest

from sketchgen.render.sheet import LABEL_PX, contact_sheet


def test_tiles_are_placed_row_major_with_labels_below():
    tiles = [np.full((20, 30), 10 * (k + 1), np.uint8) for k in range(5)]
    pad = 4
    page = contact_sheet(tiles, [f"view {k}" for k in range(5)], columns=3, pad=pad)
    cell_h, cell_w = 20 + LABEL_PX + pad, 30 + pad
    assert page.shape == (2 * cell_h + pad, 3 * cell_w + pad) and page.dtype == np.uint8
    for k, tile in enumerate(tiles):
        top, left = pad + (k // 3) * cell_h, pad + (k % 3) * cell_w
        np.testing.assert_array_equal(page[top:top + 20, left:left + 30], tile)
        label = page[top + 20:top + 20 + LABEL_PX, left:left + 30]
        assert (label < 128).sum() > 10  # text was written under the tile
    # the sixth cell is empty page
    assert (page[pad + cell_h:pad + cell_h + 20, pad + 2 * cell_w:pad + 2 * cell_w + 30] == 255).all()


def test_mixed_grey_and_colour_and_errors():
    grey = np.zeros((8, 8), np.uint8)
    colour = np.zeros((6, 10, 3), np.uint8)
    colour[..., 2] = 200
    page = contact_sheet([grey, colour], columns=2, pad=2)
    assert page.shape == (8 + 2 * 2, 2 * (10 + 2) + 2, 3)
    assert (page[2:10, 2:10] == 0).all() and (page[2:8, 14:24, 2] == 200).all()
    assert contact_sheet([]).shape == (1, 1)
    with pytest.raises(ValueError):
        contact_sheet([grey], ["a", "b"])
