"""Read synthetic pages of EMNIST test glyphs with the shipped ensemble: box P/R and CER.

Pages come from :func:`handocr.train.synth.render_page` (EMNIST test split, so no glyph was seen in
training) in five styles: clean, ruled, comb-boxed, noisy + skewed, and mixed-case words whose
letters touch (a capital then lower-case letters, gaps of -0.12 to +0.03 character heights:
"AnyCompany", "Street"; 16 words a page, so 32 pages hold 512 words). For each style the
script prints character box precision and recall at IoU >= 0.5 (one-to-one matching) and the
character error rate of the text (the development sets' rule: edit distance over truth length,
upper-cased, whitespace removed).

    python benchmarks/synth_pages.py --data ../shared/data/emnist47 --pages 5
    python benchmarks/synth_pages.py --data ../shared/data/emnist47 --pages 32 \
        --styles mixed-case-touching
"""

from __future__ import annotations

import argparse
import json

from rapidfuzz.distance import Levenshtein

from handocr.api import Recognizer
from handocr.evaluate import normalise_for_cer
from handocr.train.data import load_emnist, to_label_space
from handocr.train.synth import PageStyle, match_boxes, render_page

STYLES = {
    "clean": PageStyle(),
    "ruled": PageStyle(ruled=True),
    "boxed": PageStyle(boxed=True),
    "noisy+skewed": PageStyle(noise=12.0, skew_deg=3.0, lines=6),
    "mixed-case-touching": PageStyle(case="mixed", char_gap=(-0.12, 0.03), chars_per_word=(4, 8)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="EMNIST folder (default $HANDOCR_DATA)")
    ap.add_argument("--split", default="pool47")
    ap.add_argument("--pages", type=int, default=5, help="pages per style")
    ap.add_argument("--styles", nargs="*", default=list(STYLES), choices=list(STYLES))
    ap.add_argument(
        "--search",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="segmentation search (--no-search: the layout with the local join/cut rules)",
    )
    args = ap.parse_args()
    test = load_emnist(args.data, args.split, "test")
    glyphs, labels = test.images, to_label_space(test)
    rec = Recognizer(device="cpu", search=args.search)
    for name in args.styles:
        style = STYLES[name]
        tp = n_truth = n_found = dist = length = 0
        for seed in range(args.pages):
            page = render_page(glyphs, labels, style, seed=seed)
            doc = rec.read(page.image)
            found = [c.box for line in doc.pages[0].lines for c in line.all_chars()]
            truth = [c.box for c in page.chars]
            _, _, matched = match_boxes(truth, found)
            tp, n_truth, n_found = tp + matched, n_truth + len(truth), n_found + len(found)
            ref, hyp = normalise_for_cer(page.text), normalise_for_cer(doc.text)
            dist += Levenshtein.distance(ref, hyp)
            length += len(ref)
        row = {
            "style": name,
            "pages": args.pages,
            "chars": n_truth,
            "box_precision": round(tp / max(n_found, 1), 4),
            "box_recall": round(tp / max(n_truth, 1), 4),
            "cer": round(dist / max(length, 1), 4),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
