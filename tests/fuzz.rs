//! Fuzz targets run for a bounded time inside `cargo test`: the GGUF reader (our header,
//! metadata and shape checks, then the model load), the card parser, the segmenter and
//! the JSONL reader get mutations of valid inputs (bit flips, truncation, spliced bytes,
//! huge numbers in header fields) and must never panic: a file is read or refused with
//! a typed error. Each target runs `ANUVAD_FUZZ_SECS` seconds (default 5) from a seed
//! printed at the start (`ANUVAD_FUZZ_SEED` replays one); a failing input is saved to
//! the temporary directory and named in the failure.

mod common;

use anuvad::card::ModelCard;
use anuvad::config::InputRules;
use anuvad::engine::Engine;
use anuvad::internals::{DecoderEngine, segment, source};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Values that break arithmetic: zero, one, powers of two at type edges, all ones.
const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1 << 32,
    1 << 40,
    1 << 62,
    i64::MAX as u64,
    u64::MAX,
];

/// One mutation of `data`, inside `data[..region]` where it writes (so a GGUF's header
/// is hit rather than its weights).
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, region: usize, splice: &[&[u8]]) {
    let region = region.min(data.len()).max(1);
    match rng.below(7) {
        0 if !data.is_empty() => {
            let at = rng.below(region.min(data.len()));
            data[at] ^= 1 << rng.below(8);
        }
        1 if data.len() >= 8 => {
            // A huge (or zero) number where a length, count or size may be.
            let at = rng.below(region.min(data.len() - 7));
            let v = *rng.pick(INTERESTING);
            if rng.below(2) == 0 {
                data[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
            } else {
                data[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        2 => {
            let at = rng.below(data.len() + 1);
            data.truncate(at);
        }
        3 if !data.is_empty() => {
            let at = rng.below(region.min(data.len()));
            let n = rng.below(16).min(data.len() - at);
            data.drain(at..at + n);
        }
        4 => {
            let at = rng.below(region.min(data.len()) + 1);
            let piece = *rng.pick(splice);
            data.splice(at..at, piece.iter().copied());
        }
        5 if data.len() >= 2 => {
            // Copy a run of the input elsewhere (duplicated lines, keys, arrays).
            let from = rng.below(data.len());
            let n = rng.below(64).min(data.len() - from);
            let piece = data[from..from + n].to_vec();
            let at = rng.below(region.min(data.len()) + 1);
            data.splice(at..at, piece);
        }
        _ => {
            let at = rng.below(region.min(data.len()) + 1);
            data.insert(at, rng.next() as u8);
        }
    }
}

/// Run `case` on mutations of `seeds` for the time budget; a panic fails the test with
/// the seed, the case number and the saved input.
fn fuzz(
    target: &str,
    seeds: &[Vec<u8>],
    region: impl Fn(&[u8]) -> usize,
    splice: &[&[u8]],
    case: impl Fn(&[u8]),
) {
    let secs: f64 = std::env::var("ANUVAD_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let seed: u64 = std::env::var("ANUVAD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        .max(1);
    eprintln!("fuzz {target}: seed {seed} (ANUVAD_FUZZ_SEED={seed} replays it), {secs} s");
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut n = 0usize;
    while n == 0 || Instant::now() < deadline {
        let mut data = rng.pick(seeds).clone();
        let region = region(&data);
        for _ in 0..=rng.below(4) {
            mutate(&mut rng, &mut data, region, splice);
        }
        if catch_unwind(AssertUnwindSafe(|| case(&data))).is_err() {
            let saved = std::env::temp_dir().join(format!("anuvad-fuzz-{target}-{seed}-{n}.bin"));
            std::fs::write(&saved, &data).unwrap();
            panic!(
                "fuzz {target}: case {n} of seed {seed} panicked; input saved to {}",
                saved.display()
            );
        }
        n += 1;
    }
    eprintln!("fuzz {target}: {n} inputs, no panic");
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anuvad-fuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn fuzz_gguf_reader_and_model_load() {
    let home = common::tiny::Home::new("fuzz-gguf");
    let good = std::fs::read(home.path("models/tiny-gemma3.gguf")).unwrap();
    let mut qwen = anuvad::testing::TinyModel::tiny();
    qwen.arch = "qwen2".into();
    qwen.layers = 2;
    let qwen_path = home.path("models/tiny-qwen2.gguf");
    anuvad::testing::write_model(&qwen_path, &qwen).unwrap();
    let seeds = vec![good, std::fs::read(&qwen_path).unwrap()];
    let card = ModelCard::parse(common::tiny::CARD, "tiny.toml").unwrap();
    let dir = scratch("gguf");
    let path = dir.join("model.gguf");
    // Mutations land in the header (metadata and tensor infos), where the checks are.
    let header = |d: &[u8]| {
        let mut r = std::io::Cursor::new(d);
        candle_core::quantized::gguf_file::Content::read(&mut r)
            .map_or(d.len(), |c| c.tensor_data_offset as usize)
    };
    let splice: &[&[u8]] = &[
        &u64::MAX.to_le_bytes(),
        &[9, 0, 0, 0],
        &[8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        b"gemma3.attention.head_count",
    ];
    fuzz("gguf", &seeds, header, splice, |data| {
        std::fs::write(&path, data).unwrap();
        match DecoderEngine::load(&path, &card, "0".repeat(64), None) {
            // A file that passes the checks runs: whatever the mutation changed (token
            // types, values of weights, norms), a forward pass gives logits or an error.
            Ok(mut engine) => {
                let _ = engine.score("Hindi: सरकार\nEnglish:", " दिल्ली", " The government");
            }
            Err(e) => {
                let text = e.to_string();
                assert!(
                    matches!(e.exit_code(), 5 | 6),
                    "a model file problem, not {}: {text}",
                    e.exit_code()
                );
                assert!(!text.contains("\n  0: "), "no backtrace: {text}");
            }
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

fn builtin_cards() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut cards: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    cards.push(common::tiny::CARD.as_bytes().to_vec());
    cards
}

#[test]
fn fuzz_card_parser() {
    let splice: &[&[u8]] = &[
        b"0",
        b"-1",
        b"nan",
        b"inf",
        b"1e309",
        b"18446744073709551616",
        b"\"\"",
        b"\n[prompts.translate]\nbody = \"{source}{source}{\"\n",
        b"\nmax_new_tokens = 0\n",
        b"\nstop = [\"\"]\n",
        b"\nfile = \"../../etc/passwd\"\n",
        "\u{0}\u{202e}".as_bytes(),
    ];
    fuzz(
        "card",
        &builtin_cards(),
        |d| d.len(),
        splice,
        |data| {
            let text = String::from_utf8_lossy(data);
            if let Err(e) = ModelCard::parse(&text, "fuzz.toml") {
                assert!(
                    matches!(e, anuvad::Error::Card { .. }),
                    "a card error, not {}: {e}",
                    e.kind()
                );
            }
        },
    );
}

const ARTICLES: &[&str] = &[
    common::tiny::ARTICLE,
    "नई दिल्ली, 14 जुलाई (भाषा)। राजधानी में शुक्रवार को 112.5 मिलीमीटर बारिश हुई। डॉ. शर्मा ने कहा, \"हम तैयार हैं।\" फिर?",
    "मुंबई: 3.14 करोड़ रुपये… यह सच है! क्या? हाँ॥ \"उन्होंने कहा,\" 'ठीक' (पीटीआई) [1] Mr. A.B. Singh www.example.com/a.b",
    "\n\n\u{feff}हिंदी\r\n\r\n\t \u{200d}क्ष\u{094d}\n।।।\n...\n\"\n",
];

#[test]
fn fuzz_segmenter() {
    let seeds: Vec<Vec<u8>> = ARTICLES.iter().map(|a| a.as_bytes().to_vec()).collect();
    let splice: &[&[u8]] = &[
        "।".as_bytes(),
        "॥".as_bytes(),
        b".",
        b"?\"",
        b"\n\n",
        b" ",
        "डॉ.".as_bytes(),
        "…".as_bytes(),
        "\u{094d}".as_bytes(),
        "१२.५".as_bytes(),
        b"\r",
        "\u{200b}".as_bytes(),
    ];
    let letters = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
    fuzz(
        "segment",
        &seeds,
        |d| d.len(),
        splice,
        |data| {
            let text = String::from_utf8_lossy(data);
            let normalized = segment::normalize(&text);
            let doc = segment::segment(&normalized);
            let mut covered = String::new();
            for p in &doc.paragraphs {
                assert!(
                    !p.text.trim().is_empty(),
                    "an empty paragraph from {text:?}"
                );
                // The sentences cover the paragraph: no character lost or added.
                let joined: String = p.sentences.concat();
                assert_eq!(
                    letters(&joined),
                    letters(&p.text),
                    "sentences of {:?}",
                    p.text
                );
                for s in &p.sentences {
                    let clauses = segment::split_clauses(s).concat();
                    assert_eq!(letters(&clauses), letters(s), "clauses of {s:?}");
                }
                covered.push_str(&p.text);
            }
            assert_eq!(
                letters(&covered),
                letters(&normalized),
                "paragraphs of {text:?}"
            );
            // The public path: checked, then the same segmentation.
            let _ = anuvad::Article::new("fuzz", &text, &InputRules::default());
        },
    );
}

#[test]
fn fuzz_jsonl_reader() {
    let seeds: Vec<Vec<u8>> = vec![
        format!(
            "{{\"id\": \"a\", \"text\": {}, \"title\": \"शीर्षक\", \"section\": \"desh\"}}\n{{\"id\": 7, \"text\": \"दो\", \"url\": 3}}\n\n{{\"id\": \"c\", \"text\": \"तीन\", \"extra\": [1, {{\"x\": null}}]}}\n",
            serde_json::to_string(common::tiny::ARTICLE).unwrap()
        )
        .into_bytes(),
        b"\xef\xbb\xbf{\"id\": \"bom\", \"text\": \"\\u0915\"}\r\n{\"id\": \"\", \"text\": \"x\"}\nnot json\n".to_vec(),
    ];
    let splice: &[&[u8]] = &[
        b"{",
        b"}",
        b"\"",
        b"\\u",
        b"\\ud800",
        b"\n",
        b"\xff",
        b"1e999999",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        b"\"id\": \"../../x\", ",
        b"\"text\": null, ",
    ];
    let dir = scratch("jsonl");
    let feed = dir.join("feed.jsonl");
    fuzz(
        "jsonl",
        &seeds,
        |d| d.len(),
        splice,
        |data| {
            std::fs::write(&feed, data).unwrap();
            let items = match source::collect(std::slice::from_ref(&feed)) {
                Ok(items) => items,
                // A feed left with no records at all is refused as a whole.
                Err(e) if e.kind() == "no_articles" => return,
                Err(e) => panic!("a readable feed, not: {e}"),
            };
            let lines = data.split(|&b| b == b'\n').count();
            assert!(
                items.len() <= lines,
                "{} items from {lines} lines",
                items.len()
            );
            for item in &items {
                assert!(!item.id.is_empty(), "an item without an id");
                if let Err(e) = item.read_at_most(usize::MAX) {
                    assert!(
                        matches!(e.kind(), "not_utf8" | "bad_record"),
                        "a record error, not {}: {e}",
                        e.kind()
                    );
                }
            }
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
}
