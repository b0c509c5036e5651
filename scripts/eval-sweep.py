#!/usr/bin/env python3
"""Compare settings of a model card on the evaluation set with `anuvad eval`.

    scripts/eval-sweep.py [--card models/gemma3-270m.toml] [--data eval/news] [--limit N]

Each variant is the card with a few lines changed (see VARIANTS), written as its own
card into a temporary ANUVAD_HOME (the model file linked in), then evaluated for
translation. Prints a Markdown table: setting → chrF, BLEU, kept names/numbers, flags,
seconds. Uses target/release/anuvad (build it first).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

root = Path(__file__).resolve().parent.parent


def with_examples(card: str, n: int) -> str:
    """Keep only the first n few-shot examples of the translate prefix."""
    m = re.search(r'(\[prompts\.translate\]\nprefix = """)(.*?)(""")', card, re.S)
    examples = [e for e in m.group(2).split("\n\n") if e.strip()]
    kept = "\n\n".join(examples[:n]) + "\n\n"
    return card[: m.start(2)] + kept + card[m.end(2):]


def set_key(card: str, section: str, key: str, value: str) -> str:
    """Set `key = value` in `[section]`, adding the line if the key is absent."""
    head = f"[{section}]\n"
    start = card.index(head) + len(head)
    end = card.find("\n[", start)
    body = card[start:end]
    line = f"{key} = {value}"
    if re.search(rf"^{key} = .*$", body, re.M):
        body = re.sub(rf"^{key} = .*$", line, body, flags=re.M)
    else:
        body = line + "\n" + body
    return card[:start] + body + card[end:]


VARIANTS = [
    ("card as shipped", lambda c: c),
    ("output_ratio 2.5 (looser budget)", lambda c: set_key(c, "generation", "output_ratio", "2.5")),
    ("2 sentences per chunk", lambda c: set_key(c, "chunk", "max_sentences", "2")),
    ("3 few-shot examples", lambda c: with_examples(c, 3)),
    ("repetition guard 3-gram x2", lambda c: set_key(set_key(c, "generation", "repeat_ngram", "3"), "generation", "repeat_limit", "2")),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--card", default=str(root / "models/gemma3-270m.toml"))
    ap.add_argument("--data", default=str(root / "eval/news"))
    ap.add_argument("--limit", type=int)
    ap.add_argument("--threads", default="2")
    args = ap.parse_args()
    base = Path(args.card).read_text()
    model_file = re.search(r'^file = "(.*)"', base, re.M).group(1)
    home = Path(os.environ.get("ANUVAD_HOME", Path.home() / ".cache/anuvad"))
    model = home / "models" / model_file
    if not model.is_file():
        sys.exit(f"eval-sweep: {model} is missing (scripts/fetch-model.sh)")
    binary = root / "target/release/anuvad"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "models").mkdir()
        os.symlink(model, Path(tmp) / "models" / model_file)
        for i, (name, change) in enumerate(VARIANTS):
            card = change(base)
            card = re.sub(r'^id = ".*"', f'id = "sweep-{i}"', card, count=1, flags=re.M)
            card = re.sub(r"^default = true\n", "", card, flags=re.M)
            (Path(tmp) / "models" / f"sweep-{i}.toml").write_text(card)
            cmd = [str(binary), "--model", f"sweep-{i}", "--threads", args.threads,
                   "--progress", "none", "eval", args.data, "--format", "json"]
            if args.limit:
                cmd += ["--limit", str(args.limit)]
            out = subprocess.run(cmd, env={**os.environ, "ANUVAD_HOME": tmp},
                                 capture_output=True, text=True)
            if out.returncode not in (0, 7):
                sys.exit(f"eval-sweep: {name}: {out.stderr}")
            s = json.loads(out.stdout)["summary"]
            flags = ", ".join(f"{k} {v}" for k, v in s["flags"].items()) or "–"
            kept = f"{s['kept'][0]}/{s['kept'][1]}" if s.get("kept") else "–"
            rows.append((name, s["chrf"], s["bleu"], kept, flags, s["seconds"]))
            print(f"{name}: chrF {s['chrf']:.1f} BLEU {s['bleu']:.1f} kept {kept} flags {flags} {s['seconds']:.0f} s",
                  file=sys.stderr)
    print("| setting | chrF | BLEU | kept names/numbers | flags (sentences) | generation s |")
    print("|---|---:|---:|---:|---|---:|")
    for name, chrf, bleu, kept, flags, secs in rows:
        print(f"| {name} | {chrf:.1f} | {bleu:.1f} | {kept} | {flags} | {secs:.0f} |")


if __name__ == "__main__":
    main()
