"""Printed or handwritten per word (issue #23): fit the classifier on generated pages, score it
on the NIST form.

    python benchmarks/kind_words.py fit [N_PAGES] [--save] [--cache FILE.pkl]
        # --save: weights/kind.json; --cache: keep the read generated pages (pickle, local)
    python benchmarks/kind_words.py nist  # scores docs/examples/hsf_w4164_fullpage.png

The NIST form's words are labelled handwritten when their box centre lies inside one of the
field boxes of docs/examples/hsf_w4164_fields.tsv (full-page pixels), printed otherwise. The form
is only scored, never fitted on.
"""

from __future__ import annotations

import csv
import json
import pickle
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
FORM = ROOT / "docs/examples/hsf_w4164_fullpage.png"
FIELDS = ROOT / "docs/examples/hsf_w4164_fields.tsv"
EMNIST = ROOT.parent / "shared/data/emnist47"
REAL = ROOT.parent / "shared/data/train/orand_car_a"  # handprint only, no printed captions


def field_boxes(path: Path = FIELDS) -> list[tuple[int, int, int, int]]:
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(int(r["x0"]), int(r["y0"]), int(r["x1"]), int(r["y1"])) for r in rows]


def score_nist(classifier=None, recognizer=None) -> dict:
    from handocr.api import Recognizer
    from handocr.kind import load_kind_classifier, page_words, word_features, word_lines
    from handocr.train.kind import kind_report

    clf = classifier or load_kind_classifier()
    gray = cv2.imread(str(FORM), cv2.IMREAD_GRAYSCALE)
    page = (recognizer or Recognizer()).read_images([gray])[0].page
    boxes = field_boxes()
    words = page_words(page)
    truth = []
    for w in words:
        cx, cy = (w.box.x0 + w.box.x1) / 2, (w.box.y0 + w.box.y1) / 2
        inside = any(x0 <= cx < x1 and y0 <= cy < y1 for x0, y0, x1, y1 in boxes)
        truth.append(0 if inside else 1)
    feats = word_features(page, gray)
    p = clf.predict_proba(feats, word_lines(page))
    rep_word = kind_report(truth, (clf.predict_proba(feats) >= clf.threshold).astype(int))
    pred = (p >= clf.threshold).astype(int)
    rep = kind_report(truth, pred)
    rep["per_word"] = rep_word
    rep["errors"] = [
        {
            "text": w.text,
            "box": [w.box.x0, w.box.y0, w.box.x1, w.box.y1],
            "truth": t,
            "p_printed": round(float(q), 3),
        }
        for w, t, q, y in zip(words, truth, p, pred, strict=True)
        if t != y
    ]
    return rep


def progress(done: int, total: int) -> None:
    print(f"{done}/{total}", file=sys.stderr)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "fit":
        from handocr.train.kind import fit_kind, save_kind_classifier

        n = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 60
        read = None
        cache = Path(argv[argv.index("--cache") + 1]) if "--cache" in argv else None
        if cache is not None and cache.is_file():
            read = pickle.loads(cache.read_bytes())  # our own file, written below
        elif cache is not None:
            from handocr.api import Recognizer
            from handocr.train.data import load_emnist, to_label_space
            from handocr.train.kind import generate_kind_pages, load_real_hand, read_kind_pages

            split = load_emnist(EMNIST, "pool47", "train")
            real = load_real_hand(REAL)
            pages = generate_kind_pages(n, split.images, to_label_space(split), seed=0, real=real)
            read = read_kind_pages(pages, Recognizer(), progress)
            cache.write_bytes(pickle.dumps(read))
        clf, report = fit_kind(data=EMNIST, real=REAL, n_pages=n, progress=progress, read=read)
        print(json.dumps(report, indent=2))
        if "--save" in argv:
            print(save_kind_classifier(ROOT / "weights", clf, report), file=sys.stderr)
        return 0
    if argv and argv[0] == "nist":
        print(json.dumps(score_nist(), indent=2))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
