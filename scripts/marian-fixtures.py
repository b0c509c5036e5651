#!/usr/bin/env python3
"""Build a tiny random Marian (OPUS-MT layout) and record what PyTorch `transformers`
makes of it: the reference that tests/marian_parity.rs pins anuvad's Marian engine to.

Writes a hub-style folder (config.json, model.safetensors, pytorch_model.bin,
source.spm, target.spm, vocab.json, tokenizer_config.json) and a JSON of reference
values: MarianTokenizer ids for Hindi texts, target decodes, logits of a single
sentence and of a padded batch, and greedy and beam-search outputs.

The SentencePiece models are trained on this repository's evaluation articles (Hindi
for source.spm, English for target.spm), so the tokenizer test sees real Hindi.

usage: python3 scripts/marian-fixtures.py tests/fixtures/tiny-marian
needs: pip install torch transformers sentencepiece safetensors
"""
import glob, io, json, os, sys

import sentencepiece as spm
import torch
import transformers
from transformers import MarianConfig, MarianMTModel, MarianTokenizer

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
news = os.path.join(root, "eval", "news")


def lines(pattern):
    text = []
    for f in sorted(glob.glob(os.path.join(news, pattern))):
        with open(f, encoding="utf-8") as fh:
            text += [l.strip() for l in fh if l.strip()]
    return text


def train(sentences, prefix, vocab_size):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=0.9995,
        normalization_rule_name="nmt_nfkc",
        minloglevel=2,
    )
    with open(os.path.join(out, prefix), "wb") as fh:
        fh.write(model.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


hindi, english = lines("*.hi.txt"), lines("*.en.txt")
src_pieces = train(hindi, "source.spm", 400)
tgt_pieces = train(english, "target.spm", 300)

# One shared vocabulary, as opus-mt-hi-en has: </s> 0, <unk> 1, pieces, <pad> last.
vocab = {"</s>": 0, "<unk>": 1}
for p in src_pieces + tgt_pieces:
    if p not in vocab and p not in ("<s>", "</s>", "<unk>"):
        vocab[p] = len(vocab)
vocab["<pad>"] = len(vocab)
with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as fh:
    json.dump(vocab, fh, ensure_ascii=False, indent=1)
with open(os.path.join(out, "tokenizer_config.json"), "w") as fh:
    json.dump({"tokenizer_class": "MarianTokenizer", "separate_vocabs": False,
               "source_lang": "hi", "target_lang": "en", "model_max_length": 512,
               "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}, fh, indent=1)

pad = vocab["<pad>"]
config = MarianConfig(
    vocab_size=len(vocab), decoder_vocab_size=len(vocab), d_model=32,
    encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
    decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
    max_position_embeddings=128, activation_function="swish", scale_embedding=True,
    pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=0,
    forced_eos_token_id=0, share_encoder_decoder_embeddings=True,
    dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
)
torch.manual_seed(20261126)
model = MarianMTModel(config).eval()
with torch.no_grad():
    # Larger weights than the initialiser's, so logits are far apart and greedy choices
    # are clear; </s> is favoured a little so some outputs end before the budget.
    for name, p in model.named_parameters():
        if "embed_positions" in name:
            continue  # the fixed sinusoid table, not a weight
        if "layer_norm" in name:
            p.add_(torch.randn_like(p) * 0.1)
        elif p.dim() == 2:
            p.normal_(0.0, 0.25)
        else:
            p.normal_(0.0, 0.1)
    model.final_logits_bias[0, 0] = float(os.environ.get("EOS_BIAS", "4.85"))
    model.final_logits_bias[0, pad] = 0.0
model.generation_config.bad_words_ids = [[pad]]
model.generation_config.max_length = 512
model.generation_config.num_beams = 1
model.save_pretrained(out)  # config.json + model.safetensors
torch.save(model.state_dict(), os.path.join(out, "pytorch_model.bin"))

tok = MarianTokenizer.from_pretrained(out)

# The end-to-end CLI tests (tests/cli_marian.rs) mask Devanagari output, as anuvad does
# for English; with the parity model's strong </s> that leaves empty sentences. The same
# model with a milder </s> preference writes some Latin-script text instead.
cli = os.path.join(out, "..", "tiny-marian-cli")
os.makedirs(cli, exist_ok=True)
state = {k: v.clone() for k, v in model.state_dict().items()}
state["final_logits_bias"][0, 0] = float(os.environ.get("CLI_EOS_BIAS", "3.0"))
torch.save(state, os.path.join(cli, "pytorch_model.bin"))

texts = hindi[:12] + [
    "दिल्ली में 42 डिग्री तापमान, ₹1,250 करोड़ और 3.5% वृद्धि।",
    "  दो   शब्दों  के बीच   कई  स्थान  ",
    "गूगल ने Android 15 जारी किया 😀 और ISRO ने PSLV-C58 लॉन्च किया",
    "क़ानून, ज़मीन और फ़ैसला",  # nukta forms (NFKC)
    "१२३ देवनागरी अंक",
    "",
]
token_cases = [{"text": t, "ids": tok(t)["input_ids"]} for t in texts]
tgt_sequences = [[vocab.get(p, 1) for p in ["▁The", "▁rain", "."]],
                 tok(text_target="Heavy rain in Delhi on Sunday, 14 July.")["input_ids"],
                 tok(text_target="The RBI kept the repo rate at 6.5 per cent.")["input_ids"]]
decode_cases = [{"ids": ids, "text": tok.decode(ids, skip_special_tokens=True)}
                for ids in tgt_sequences]

sentences = [hindi[1][:60], hindi[2][:160], hindi[3][:30]]
batch = tok(sentences, padding=True, return_tensors="pt")
# Teacher-forced decoder input: start token, then some target ids.
dec_in = [pad] + tgt_sequences[1][:7]
with torch.no_grad():
    single = model(input_ids=batch["input_ids"][1:2, : int(batch["attention_mask"][1].sum())],
                   decoder_input_ids=torch.tensor([dec_in])).logits[0]
    padded = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   decoder_input_ids=torch.tensor([dec_in] * len(sentences))).logits

    def gen(**kw):
        g = model.generate(**batch, max_new_tokens=24, do_sample=False, **kw)
        return [row.tolist() for row in g]

    greedy = gen(num_beams=1)
    beam = gen(num_beams=4, length_penalty=1.0, early_stopping=False)
    singles = [model.generate(**tok([s], return_tensors="pt"), max_new_tokens=24,
                              do_sample=False, num_beams=1)[0].tolist() for s in sentences]
    # Per-token log-probabilities of the greedy outputs (for confidence).
    scores = model.generate(**batch, max_new_tokens=24, do_sample=False, num_beams=1,
                            output_scores=True, return_dict_in_generate=True)
    logprobs = torch.stack(scores.scores, 1).log_softmax(-1)
    greedy_logprobs = []
    for b in range(len(sentences)):
        row = []
        for t in range(logprobs.shape[1]):
            token = int(scores.sequences[b, t + 1])
            row.append(float(logprobs[b, t, token]))
            if token == 0:
                break  # what follows </s> is padding
        greedy_logprobs.append(row)

ref = {
    "transformers": transformers.__version__,
    "torch": torch.__version__,
    "tokenizer": token_cases,
    "decode": decode_cases,
    "sentences": sentences,
    "input_ids": batch["input_ids"].tolist(),
    "attention_mask": batch["attention_mask"].tolist(),
    "decoder_input_ids": dec_in,
    "logits_single": single.tolist(),
    "logits_padded": padded.tolist(),
    "greedy": greedy,
    "greedy_single": singles,
    "greedy_logprobs": greedy_logprobs,
    "beam4": beam,
    "greedy_text": tok.batch_decode(greedy, skip_special_tokens=True),
}
with open(os.path.join(out, "..", "marian-reference.json"), "w", encoding="utf-8") as fh:
    json.dump(ref, fh, ensure_ascii=False)
print(f"wrote {out} ({len(vocab)} tokens) and marian-reference.json", file=sys.stderr)
print("greedy:", ref["greedy_text"], file=sys.stderr)
