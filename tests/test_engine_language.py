"""Page worker processes say their errors in the run's language (they never read the settings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from digitize import engine, i18n, pages
from digitize.errors import BadInputError
from digitize.settings import OcrSettings


def _broken_pages(folder: Path) -> tuple[pages.SourcePage, ...]:
    """Two pages whose files are not images: rendering them fails inside a worker."""
    todo = []
    for number in (1, 2):
        file = folder / f"trang-{number}.png"
        file.write_bytes(b"not an image at all")
        todo.append(pages.SourcePage(number, file, 0, "image", 200.0, "file", file.name))
    return tuple(todo)


def test_an_error_raised_in_a_page_worker_comes_out_in_the_language_of_the_run(tmp_path):
    todo = _broken_pages(tmp_path)
    with engine.PagePool(2) as pool:
        i18n.set_language("vi")
        with pytest.raises(BadInputError) as vi:
            pool.run(todo, tmp_path / "work", OcrSettings())
        # The same workers, now for a run in English: the language goes with each page, not with the pool.
        i18n.set_language("en")
        with pytest.raises(BadInputError) as en:
            pool.run(todo, tmp_path / "work", OcrSettings())
    assert vi.value.message == ("trang-1.png không phải tệp ảnh đọc được; "
                                "hãy quét ra PDF, TIFF, JPEG hoặc PNG")
    assert en.value.message == "trang-1.png is not an image that can be read; scan to PDF, TIFF, JPEG or PNG"
