"""Count the syllable model of the tone-mark correction (``digitize/data/vi_syllables.json.gz``).

Sources, all public domain or CC0, in NFC:

- the **dev** split of ``vn-docs`` (``--data``): the truth texts of the groups
  that :func:`ocr_vn.held_out` does not hold out (the held-out groups are never
  counted, so the held-out CER of ``bench/ocr_vn.py`` is measured on unseen text);
- the exact text of the sample dossiers (``samples/truth/*/page-*.txt``).

    .venv/bin/python bench/tone_model.py --data ../shared/data/vn-docs
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ocr_vn import held_out  # noqa: E402

from digitize import tonemarks  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def texts(data: Path) -> list[str]:
    truth = json.loads((data / "truth.json").read_text(encoding="utf-8"))
    found = [page["text"] for doc, pages in sorted(truth.items()) if not held_out(doc) for page in pages]
    found += [p.read_text(encoding="utf-8") for p in sorted((REPO / "samples" / "truth").glob("*/page-*.txt"))]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the vn-docs folder (truth.json)")
    parser.add_argument("-o", "--output", type=Path, default=tonemarks.MODEL_PATH)
    args = parser.parse_args()
    model = tonemarks.ToneModel.from_texts(texts(args.data))
    data = json.dumps(model.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(args.output, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(data)  # mtime 0: the same counts give the same bytes
    print(f"{len(model.unigrams)} syllables, {len(model.bigrams)} pairs, {model.total} tokens -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
