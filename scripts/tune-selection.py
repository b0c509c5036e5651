#!/usr/bin/env python3
"""Tune the weights that choose among translation candidates (card `[quality.weights]`).

Run `anuvad eval` on the tuning split with every candidate kind and the channel score,
dumping each chunk's candidates and score parts:

    ANUVAD_DUMP_CANDIDATES=/tmp/dump.jsonl anuvad eval DEV_DIR --quality best

then grid-search the weights here. For each weight setting, the chosen candidates of an
article are joined and scored against the article's reference (chrF) and its fact lists
(names, numbers, dates kept; numbers and names invented are counted by the dump's facts
part). The objective is the one the issue sets: facts kept first, chrF not lower.

    scripts/tune-selection.py /tmp/dump.jsonl eval/news --articles 01-16

Needs `sacrebleu` (pip). A developer's tool: nothing at run time depends on it.
"""

import argparse
import itertools
import json
import re
import sys
import tomllib
import unicodedata
from pathlib import Path

import sacrebleu


def norm(s):
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", s)).strip()


def has_fact(text, fact):
    text = text.lower()
    for f in (x.strip().lower() for x in fact.split("|")):
        if not f:
            continue
        for m in re.finditer(re.escape(f), text):
            a, b = m.start(), m.end()
            if (a == 0 or not text[a - 1].isalnum()) and (b == len(text) or not text[b].isalnum()):
                return True
    return False


def load_articles(root, ids):
    out = []
    for toml in sorted(Path(root).glob("*.toml")):
        aid = toml.stem
        if ids and aid[:2] not in ids:
            continue
        meta = tomllib.loads(toml.read_text())
        out.append(
            {
                "id": aid,
                "hindi": norm((Path(root) / f"{aid}.hi.txt").read_text()),
                "reference": (Path(root) / f"{aid}.en.txt").read_text(),
                "facts": {k: meta.get(k, []) for k in ("names", "numbers", "dates")},
            }
        )
    return out


def assign(chunks, articles):
    """Each dumped chunk goes to the article whose Hindi contains it (eval runs the
    articles in order, so a chunk found in several goes to the current one)."""
    by_article = {a["id"]: [] for a in articles}
    current = 0
    for c in chunks:
        h = norm(c["hindi"])
        order = list(range(current, len(articles))) + list(range(current))
        for i in order:
            if h and h in articles[i]["hindi"]:
                current = i
                by_article[articles[i]["id"]].append(c)
                break
    return by_article


PARTS = ("facts", "logprob", "agreement", "channel")


def choose(chunk, w, kinds):
    best, best_total = None, None
    for c in chunk["candidates"]:
        if kinds is not None and c["kind"] not in kinds:
            continue
        total = sum(w[p] * c[p] for p in PARTS)
        if best_total is None or total > best_total:
            best, best_total = c, total
    return best


def evaluate(by_article, articles, w, kinds=None):
    kept = {k: [0, 0] for k in ("names", "numbers", "dates")}
    hyps, refs = [], []
    penalty = 0.0
    for a in articles:
        chosen = [choose(c, w, kinds) for c in by_article[a["id"]]]
        text = " ".join(c["text"] for c in chosen if c)
        penalty += sum(min(0.0, c["facts"]) for c in chosen if c)
        for k, facts in a["facts"].items():
            kept[k][0] += sum(has_fact(text, f) for f in facts)
            kept[k][1] += len(facts)
        hyps.append(text)
        refs.append(" ".join(a["reference"].split()))
    chrf = sacrebleu.corpus_chrf(hyps, [refs]).score
    pct = {k: 100.0 * v[0] / max(1, v[1]) for k, v in kept.items()}
    nn = 100.0 * (kept["names"][0] + kept["numbers"][0]) / max(1, kept["names"][1] + kept["numbers"][1])
    return {"chrf": chrf, "names+numbers": nn, **pct, "invented_penalty": penalty}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump")
    ap.add_argument("data")
    ap.add_argument("--articles", default="", help="e.g. 01-16")
    ap.add_argument("--kinds", default="", help="only these candidate kinds, comma-separated")
    ap.add_argument("--weights", default="", help="evaluate these weights only: facts,logprob,agreement,channel")
    args = ap.parse_args()
    ids = set()
    if args.articles:
        a, b = args.articles.split("-")
        ids = {f"{i:02}" for i in range(int(a), int(b) + 1)}
    articles = load_articles(args.data, ids)
    chunks = [json.loads(l) for l in open(args.dump)]
    # The second `sample` of a chunk is `sample2`, so subsets can name each one.
    for c in chunks:
        seen = {}
        for cand in c["candidates"]:
            seen[cand["kind"]] = seen.get(cand["kind"], 0) + 1
            if seen[cand["kind"]] > 1:
                cand["kind"] += str(seen[cand["kind"]])
    by_article = assign(chunks, articles)
    # Only the articles the dump has (a run may have been cut short).
    articles = [a for a in articles if by_article[a["id"]]]
    kinds = set(args.kinds.split(",")) if args.kinds else None
    print(f"{len(chunks)} chunks over {len(articles)} articles", file=sys.stderr)
    if args.weights:
        w = dict(zip(PARTS, map(float, args.weights.split(","))))
        r = evaluate(by_article, articles, w, kinds)
        print(json.dumps(w), json.dumps({k: round(v, 2) for k, v in r.items()}))
        return

    first = {"facts": 0.0, "logprob": 1.0, "agreement": 0.0, "channel": 0.0}
    base = evaluate(by_article, articles, first, {"greedy"})
    print("greedy only:", json.dumps({k: round(v, 2) for k, v in base.items()}))
    grid = {
        "facts": [0.0, 0.5, 1.0, 2.0],
        "logprob": [0.0, 0.1, 0.2, 0.5, 1.0],
        "agreement": [0.0, 0.5, 1.0, 2.0],
        "channel": [0.0, 0.1, 0.2, 0.5, 1.0],
    }
    rows = []
    for values in itertools.product(*(grid[p] for p in PARTS)):
        w = dict(zip(PARTS, values))
        if not any(values):
            continue
        r = evaluate(by_article, articles, w, kinds)
        rows.append((w, r))
    # Facts kept first (names+numbers), then chrF; settings that lose chrF against
    # greedy by more than half a point are out.
    ok = [x for x in rows if x[1]["chrf"] >= base["chrf"] - 0.5]
    ok.sort(
        key=lambda x: (round(x[1]["names+numbers"], 1), round(x[1]["invented_penalty"], 1), x[1]["chrf"]),
        reverse=True,
    )
    for w, r in ok[:15]:
        print(json.dumps(w), json.dumps({k: round(v, 2) for k, v in r.items()}))


if __name__ == "__main__":
    main()
