"""Printed or handwritten per word (issue #23): fit the classifier on generated pages, score it
on the NIST form.

    python benchmarks/kind_words.py fit [N_PAGES] [--more M] [--save] [--cache PREFIX]
        [--no-forms] [--form-weight W] [--epochs E] [--nets K]
        # N_PAGES (96) generated pages of seed 0 and M (150) of seed 1, read by handocr;
        # --cache PREFIX keeps them read (PREFIX.s0.pkl, PREFIX.s1.pkl; pickles, local);
        # the Kaggle names train split's forms (printed captions beside handwritten names,
        # weakly labelled: handocr.train.kindforms.label_caption_words) join unless --no-forms,
        # each word weighing W (0.3) against a generated one; the features' classifier
        # (handocr.train.kind.fit_kind) and the word-kind network
        # (handocr.train.kindnet.train_kind_net: K = 2 networks of E = 6 epochs, averaged)
        # are fitted on the first 70 %
        # of pages and forms, the network's share chosen on the rest;
        # --save: weights/kind.json and weights/kindnet.onnx
    python benchmarks/kind_words.py nist  # scores docs/examples/hsf_w4164_fullpage.png
    python benchmarks/kind_words.py hand DIR  # share of words called handwritten in DIR
        # (images holding handwriting only, e.g. ../shared/data/pages/kaggle_names_more)

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
FORMS = ROOT.parent / "shared/data/train/kaggle_names"  # captions beside handwritten names


def field_boxes(path: Path = FIELDS) -> list[tuple[int, int, int, int]]:
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(int(r["x0"]), int(r["y0"]), int(r["x1"]), int(r["y1"])) for r in rows]


def score_nist(classifier=None, recognizer=None) -> dict:
    from handocr.api import Recognizer
    from handocr.kind import load_kind_classifier, page_words, printed_proba, word_features
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
    p = printed_proba(page, gray, clf)
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


def option(argv: list[str], name: str, default: str) -> str:
    return argv[argv.index(name) + 1] if name in argv else default


def read_pages(n: int, seed: int, cache: Path | None) -> list:
    """Generate ``n`` pages with ``seed`` and read them (or load them from ``cache``)."""
    if cache is not None and cache.is_file():
        return pickle.loads(cache.read_bytes())  # our own file, written below
    from handocr.api import Recognizer
    from handocr.train.data import load_emnist, to_label_space
    from handocr.train.kind import generate_kind_pages, load_real_hand, read_kind_pages

    split = load_emnist(EMNIST, "pool47", "train")
    pages = generate_kind_pages(
        n, split.images, to_label_space(split), seed=seed, real=load_real_hand(REAL)
    )
    read = read_kind_pages(pages, Recognizer(), progress)
    if cache is not None:
        cache.write_bytes(pickle.dumps(read))
    return read


def fit(argv: list[str]) -> None:
    """Fit the features' classifier and train the network; with --save, ship both."""
    import numpy as np

    from handocr.api import Recognizer
    from handocr.kind import NET_FILE, KindClassifier
    from handocr.kind_net import KindNet
    from handocr.models.weights import file_sha256
    from handocr.train.kind import (
        fit_kind,
        kind_features,
        kind_report,
        save_kind_classifier,
    )
    from handocr.train.kindforms import read_caption_forms
    from handocr.train.kindnet import choose_net_weight, kind_page_crops, train_kind_net

    n = int(argv[0]) if argv and argv[0].isdigit() else 96
    more = int(option(argv, "--more", "150"))
    prefix = option(argv, "--cache", "")
    caches = [Path(f"{prefix}.s{k}.pkl") if prefix else None for k in (0, 1)]
    read = read_pages(n, 0, caches[0]) + (read_pages(more, 1, caches[1]) if more else [])
    forms = (
        [] if "--no-forms" in argv else read_caption_forms(FORMS, Recognizer(), progress=progress)
    )
    form_weight = float(option(argv, "--form-weight", "0.3"))
    clf_dict, report = fit_kind(read=read, forms=forms, form_weight=form_weight)
    clf = KindClassifier.from_dict(clf_dict)
    # the same split as fit_kind: the last 30 % of pages and of forms are held out
    x, y, g, lines = kind_features(read)
    crops = kind_page_crops(read)
    n_test = max(round(len(read) * 0.3), 1)
    n_ft = max(round(len(forms) * 0.3), 1) if forms else 0
    held = g >= len(read) - n_test
    f_held = [i >= len(forms) - n_ft for i in range(len(forms))]
    train_x = [crops[~held]] + [f[3] for f, h in zip(forms, f_held, strict=True) if not h]
    train_y = [y[~held]] + [f[1] for f, h in zip(forms, f_held, strict=True) if not h]
    out = (ROOT / "weights" if "--save" in argv else Path("/tmp")) / NET_FILE
    epochs = int(option(argv, "--epochs", "6"))
    seeds = tuple(range(int(option(argv, "--nets", "2"))))
    train_kind_net(
        np.concatenate(train_x),
        np.concatenate(train_y),
        out,
        epochs=epochs,
        seeds=seeds,
        progress=lambda e, loss: print(f"epoch {e}: loss {loss:.4f}", file=sys.stderr),
    )
    net = KindNet(out)
    hx = [x[held]] + [f[0] for f, h in zip(forms, f_held, strict=True) if h]
    hc = [crops[held]] + [f[3] for f, h in zip(forms, f_held, strict=True) if h]
    hy = [y[held]] + [f[1] for f, h in zip(forms, f_held, strict=True) if h]
    hl = [lines[held]] + [
        f[2] + 10_000_000 * (i + 1) for i, (f, h) in enumerate(zip(forms, f_held, strict=True)) if h
    ]
    sets = np.concatenate(
        [np.zeros(len(hy[0]), np.int64)] + [np.ones(len(v), np.int64) for v in hy[1:]]
    )
    zf, zn = clf.decision(np.vstack(hx)), net.logits(np.concatenate(hc))
    hy_all, hl_all = np.concatenate(hy), np.concatenate(hl)
    share, scores = choose_net_weight(zf, zn, hy_all, sets)
    clf_dict.update(net_weight=share, net_sha256=file_sha256(out))
    final = KindClassifier.from_dict(clf_dict)
    p = final.predict_proba(np.vstack(hx), hl_all, zn)
    report["net"] = {
        "epochs": epochs,
        "seeds": list(seeds),
        "train_words": int(sum(len(v) for v in train_y)),
        "share_scores": scores,
        "net_weight": share,
        "held_out_pages": kind_report(hy_all[sets == 0], (p[sets == 0] >= 0.5).astype(int)),
        "held_out_forms": kind_report(hy_all[sets == 1], (p[sets == 1] >= 0.5).astype(int)),
    }
    report["form_weight"] = form_weight
    report["generated_pages"] = {"seed 0": n, "seed 1": more}
    print(json.dumps(report, indent=2))
    if "--save" in argv:
        print(save_kind_classifier(ROOT / "weights", clf_dict, report), file=sys.stderr)


def score_handwriting(folder: Path) -> dict:
    """Share of the words called handwritten on a folder of handwriting-only images."""
    from handocr.api import Recognizer

    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".png", ".tif"})
    kinds = [
        w.kind
        for doc in (Recognizer().read(p) for p in images)
        for page in doc.pages
        for line in page.lines
        for w in line.words
    ]
    return {
        "images": len(images),
        "words": len(kinds),
        "handwritten_share": round(kinds.count("handwritten") / max(len(kinds), 1), 4),
    }


def progress(done: int, total: int) -> None:
    print(f"{done}/{total}", file=sys.stderr)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "fit":
        fit(argv[1:])
        return 0
    if argv and argv[0] == "nist":
        print(json.dumps(score_nist(), indent=2))
        return 0
    if argv and argv[0] == "hand" and len(argv) > 1:
        print(json.dumps(score_handwriting(Path(argv[1])), indent=2))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
