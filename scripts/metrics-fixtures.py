#!/usr/bin/env python3
"""Write tests/fixtures/metrics.json: corpora of line-aligned hypotheses and references
with the chrF and BLEU that the sacrebleu package gives them (default settings:
chrF char_order 6, beta 2; BLEU 13a, exp smoothing). tests/metrics.rs checks
anuvad's Rust implementation against these numbers.

    python3 scripts/metrics-fixtures.py [MODEL_TRANSLATION_OF_LONG_ARTICLE.txt]
"""
import json
import sys
from pathlib import Path

import sacrebleu

root = Path(__file__).resolve().parent.parent
arts = root / "tests/fixtures/articles"


def lines(text):
    return [l for l in text.split("\n") if l.strip()]


sample_ref = lines((arts / "sample.en.txt").read_text())
long_ref = lines((arts / "long.en.txt").read_text())
planted = [
    l.replace("112 millimetres", "121 millimetres")
    .replace("brought traffic to a standstill", "brought यातायात to a standstill")
    .replace("The Delhi government has announced a holiday in all government schools on Monday. ", "")
    for l in sample_ref
]
cases = [
    {"name": "sample reference vs planted errors", "hyps": planted, "refs": sample_ref},
    {"name": "identical", "hyps": sample_ref, "refs": sample_ref},
    {
        "name": "short segments, punctuation, quotes, numbers, empty line",
        "hyps": [
            "Rs 1,250 crore (about $150m), up 4.5% on Monday-Tuesday; 2024-25.",
            "“It’s fine,” he said — at 10.30 a.m.",
            "",
            "Yes.",
            "Sensex & Nifty <up> 0.5%",
        ],
        "refs": [
            "Rs 1,250 crore (about $150 million), up 4.5 per cent on Monday; 2024-25.",
            "\"It is fine,\" he said at 10:30 am.",
            "Photo: PTI",
            "No.",
            "Sensex &amp; Nifty up 0.5%",
        ],
    },
]
if len(sys.argv) > 1:
    hyp = lines(Path(sys.argv[1]).read_text())
    if len(hyp) == len(long_ref):
        cases.append({"name": "default model's translation of the long article", "hyps": hyp, "refs": long_ref})

for c in cases:
    c["chrf"] = sacrebleu.corpus_chrf(c["hyps"], [c["refs"]]).score
    c["bleu"] = sacrebleu.corpus_bleu(c["hyps"], [c["refs"]]).score
out = root / "tests/fixtures/metrics.json"
out.write_text(json.dumps({"sacrebleu": sacrebleu.__version__, "cases": cases}, ensure_ascii=False, indent=1) + "\n")
for c in cases:
    print(f"{c['name']}: chrF {c['chrf']:.4f} BLEU {c['bleu']:.4f}")
