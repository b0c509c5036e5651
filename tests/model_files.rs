//! Model files are hostile until checked: a GGUF whose metadata, tensor shapes or header
//! counts are wrong is refused before anything divides by them or allocates from them,
//! with a message naming the file and the key (or tensor), exit 5, never a panic or a
//! backtrace; in `batch` too.

mod common;

use anuvad::card::ModelCard;
use anuvad::internals::DecoderEngine;
use anuvad::testing::{set_metadata_f32, set_metadata_u32, tensor_info};
use common::tiny::{CARD, Home, stderr};
use std::path::{Path, PathBuf};

fn tiny_bytes() -> Vec<u8> {
    // A home of its own per call: tests run in parallel, and a shared one is removed
    // under another test's feet.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let home = Home::new(&format!("model-files-bytes-{n}"));
    std::fs::read(home.path("models/tiny-gemma3.gguf")).unwrap()
}

/// Load `bytes` as a model through the library and return the error's message.
fn refusal(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("anuvad-model-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.gguf"));
    std::fs::write(&path, bytes).unwrap();
    let result = load(&path);
    let _ = std::fs::remove_file(&path);
    result
}

fn load(path: &Path) -> String {
    let card = ModelCard::parse(CARD, "tiny.toml").unwrap();
    match DecoderEngine::load(path, &card, "0".repeat(64), None) {
        Ok(_) => panic!("{} was loaded", path.display()),
        Err(e) => {
            assert_eq!(e.exit_code(), 5, "{e}");
            let text = e.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(!text.contains('\n'), "one line, no backtrace: {text}");
            text
        }
    }
}

#[test]
fn every_out_of_bounds_metadata_value_is_refused_naming_its_key_and_value() {
    let good = tiny_bytes();
    let u32_cases: &[(&str, u32, &str)] = &[
        ("gemma3.attention.head_count", 0, "is 0"),
        (
            "gemma3.attention.head_count_kv",
            0xFFFF_FFFF,
            "is 4294967295",
        ),
        ("gemma3.block_count", 0xFFFF_FFFF, "is 4294967295"),
        ("gemma3.attention.key_length", 1 << 20, "is 1048576"),
        ("gemma3.attention.key_length", 31, "must be even"),
        ("gemma3.embedding_length", 0, "is 0"),
        ("gemma3.context_length", 0, "is 0"),
        ("gemma3.attention.sliding_window", 0, "is 0"),
    ];
    for &(key, value, says) in u32_cases {
        let mut bytes = good.clone();
        set_metadata_u32(&mut bytes, key, value);
        let err = refusal("u32", &bytes);
        assert!(
            err.contains(&format!("`{key}`")) && err.contains(says),
            "{key}={value}: {err}"
        );
    }
    let f32_cases: &[(&str, f32)] = &[
        ("gemma3.attention.layer_norm_rms_epsilon", f32::NAN),
        ("gemma3.attention.layer_norm_rms_epsilon", 0.0),
        ("gemma3.rope.freq_base", f32::INFINITY),
        ("gemma3.rope.freq_base", -1.0),
    ];
    for &(key, value) in f32_cases {
        let mut bytes = good.clone();
        set_metadata_f32(&mut bytes, key, value);
        let err = refusal("f32", &bytes);
        assert!(
            err.contains(&format!("`{key}` is {value}")) && err.contains("finite and above zero"),
            "{key}={value}: {err}"
        );
    }
}

#[test]
fn a_tensor_whose_shape_disagrees_with_the_metadata_is_named() {
    let good = tiny_bytes();
    // Head count 3 × head size 32 needs 96-row query projections; the file has 64.
    let mut bytes = good.clone();
    set_metadata_u32(&mut bytes, "gemma3.attention.head_count", 3);
    let err = refusal("heads", &bytes);
    assert!(
        err.contains("tensor `blk.0.attn_q.weight` is [64, 64], expected [96, 64]"),
        "{err}"
    );

    // An MLP down projection with its dimensions swapped ([128, 64] instead of [64, 128]).
    let mut bytes = good.clone();
    let at = tensor_info(&bytes, "blk.3.ffn_down.weight").unwrap() + 4;
    bytes[at..at + 8].copy_from_slice(&64u64.to_le_bytes());
    bytes[at + 8..at + 16].copy_from_slice(&128u64.to_le_bytes());
    let err = refusal("down", &bytes);
    assert!(
        err.contains("tensor `blk.3.ffn_down.weight` is [128, 64], expected [64, 128]"),
        "{err}"
    );

    // An embedding with fewer rows than the vocabulary has tokens.
    let mut bytes = good.clone();
    let at = tensor_info(&bytes, "token_embd.weight").unwrap() + 4;
    bytes[at + 8..at + 16].copy_from_slice(&256u64.to_le_bytes());
    let err = refusal("vocab", &bytes);
    assert!(
        err.contains("tokens but `token_embd.weight` only 256 rows"),
        "{err}"
    );

    // A norm of the wrong length.
    let mut bytes = good.clone();
    let at = tensor_info(&bytes, "blk.2.attn_q_norm.weight").unwrap() + 4;
    bytes[at..at + 8].copy_from_slice(&16u64.to_le_bytes());
    let err = refusal("norm", &bytes);
    assert!(
        err.contains("tensor `blk.2.attn_q_norm.weight` is [16], expected [32]"),
        "{err}"
    );
}

#[test]
fn tensor_sizes_and_offsets_from_the_file_are_checked_against_its_length() {
    let good = tiny_bytes();
    // An embedding of 2^58 rows of 64: the element count overflows to zero on 64 bits.
    let mut bytes = good.clone();
    let at = tensor_info(&bytes, "token_embd.weight").unwrap() + 4;
    bytes[at + 8..at + 16].copy_from_slice(&(1u64 << 58).to_le_bytes());
    let err = refusal("rows", &bytes);
    assert!(
        err.contains("tensor `token_embd.weight` has an impossible shape"),
        "{err}"
    );

    // Data past the end of the file.
    let mut bytes = good.clone();
    let at = tensor_info(&bytes, "output_norm.weight").unwrap() + 4 + 8 + 4;
    bytes[at..at + 8].copy_from_slice(&(u64::MAX - 16).to_le_bytes());
    let err = refusal("offset", &bytes);
    assert!(
        err.contains("tensor `output_norm.weight`")
            && err.contains("runs past the end of the file"),
        "{err}"
    );
}

/// A GGUF header: magic, version 3, tensor and metadata counts, then `entries` as they
/// are written on disk.
fn header(tensors: u64, kvs: u64, entries: &[u8]) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(tensors.to_le_bytes());
    b.extend(kvs.to_le_bytes());
    b.extend(entries);
    b
}

fn string(s: &str) -> Vec<u8> {
    let mut b = (s.len() as u64).to_le_bytes().to_vec();
    b.extend(s.as_bytes());
    b
}

/// A metadata entry holding an array of `n` values of GGUF type `ty`, followed by `data`.
fn array_entry(key: &str, ty: u32, n: u64, data: &[u8]) -> Vec<u8> {
    let mut b = string(key);
    b.extend(9u32.to_le_bytes());
    b.extend(ty.to_le_bytes());
    b.extend(n.to_le_bytes());
    b.extend(data);
    b
}

#[test]
fn a_hostile_gguf_header_is_refused_before_its_values_are_kept() {
    // Nine million one-byte elements: 9 MB on disk, 290 MB as candle keeps them.
    let many = array_entry("general.junk", 0, 9_000_000, &vec![0u8; 9_000_000]);
    let err = refusal("many", &header(0, 1, &many));
    assert!(err.contains("array elements in the metadata"), "{err}");

    // Counts far past the file.
    let err = refusal(
        "huge-array",
        &header(0, 1, &array_entry("a", 0, 1 << 40, &[0; 64])),
    );
    assert!(err.contains("array elements"), "{err}");
    let err = refusal("tensors", &header(1 << 40, 0, &[0; 64]));
    assert!(err.contains("declares 1099511627776 tensors"), "{err}");
    let mut entry = string("general.name");
    entry.extend(8u32.to_le_bytes());
    entry.extend((1u64 << 62).to_le_bytes());
    let err = refusal("string", &header(0, 1, &entry));
    assert!(err.contains("runs past the end of the file"), "{err}");

    // Arrays of arrays of arrays.
    let mut nested = array_entry("deep", 9, 1, &[]);
    nested.extend(9u32.to_le_bytes());
    nested.extend(1u64.to_le_bytes());
    nested.extend(9u32.to_le_bytes());
    nested.extend(1u64.to_le_bytes());
    nested.extend([0u8; 32]);
    let err = refusal("nested", &header(0, 1, &nested));
    assert!(err.contains("nests arrays"), "{err}");

    let err = refusal("magic", b"GGML and then some bytes");
    assert!(
        err.contains("does not start with the magic bytes \"GGUF\""),
        "{err}"
    );
}

fn tampered_home(name: &str, key: &str, value: u32) -> Home {
    let home = Home::new(name);
    let model = home.path("models/tiny-gemma3.gguf");
    let mut bytes = std::fs::read(&model).unwrap();
    set_metadata_u32(&mut bytes, key, value);
    std::fs::write(&model, bytes).unwrap();
    home
}

fn assert_clean_refusal(out: &std::process::Output, key: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains(key) && err.contains("tiny-gemma3.gguf"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert!(!err.contains("  0: "), "no backtrace frames: {err}");
}

#[test]
fn the_binary_refuses_a_bad_model_with_exit_5_and_no_backtrace_even_in_batch() {
    let home = tampered_home("model-files-cli", "gemma3.attention.head_count", 0);
    let article = home.path("article.txt");
    let mut cmd = home.command(&["translate", article.to_str().unwrap()]);
    let out = cmd.env("RUST_BACKTRACE", "1").output().unwrap();
    assert_clean_refusal(&out, "`gemma3.attention.head_count` is 0");

    let inputs = home.path("in");
    std::fs::create_dir_all(&inputs).unwrap();
    for i in 0..3 {
        std::fs::copy(&article, inputs.join(format!("{i}.txt"))).unwrap();
    }
    let outdir = home.path("out");
    let mut cmd = home.command(&[
        "batch",
        "--progress",
        "plain",
        inputs.to_str().unwrap(),
        "--out",
        outdir.to_str().unwrap(),
    ]);
    let out = cmd.env("RUST_BACKTRACE", "1").output().unwrap();
    assert_clean_refusal(&out, "`gemma3.attention.head_count` is 0");
}

/// The real default model with `attention.key_length = 2^20` grew to 12.6 GB before
/// dying; now it is refused from its metadata, before any weight is read.
#[test]
fn the_real_model_with_a_huge_head_size_is_refused_from_its_metadata() {
    let Some(real) = common::real_model() else {
        return;
    };
    let mut bytes = std::fs::read(&real).unwrap();
    set_metadata_u32(&mut bytes, "gemma3.attention.key_length", 1 << 20);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "anuvad-model-files-real-{}.gguf",
        std::process::id()
    ));
    std::fs::write(&path, bytes).unwrap();
    let err = load(&path);
    let _ = std::fs::remove_file(&path);
    assert!(
        err.contains("`gemma3.attention.key_length` is 1048576"),
        "{err}"
    );
}

/// Pickle opcodes, written out for the checkpoints below.
mod pickle {
    pub fn unicode(s: &str) -> Vec<u8> {
        let mut b = vec![b'X'];
        b.extend((s.len() as u32).to_le_bytes());
        b.extend(s.as_bytes());
        b
    }

    pub fn int(v: i32) -> Vec<u8> {
        let mut b = vec![b'J'];
        b.extend(v.to_le_bytes());
        b
    }

    fn ints(vs: &[i32]) -> Vec<u8> {
        let mut b = vec![b'('];
        vs.iter().for_each(|&v| b.extend(int(v)));
        b.push(b't');
        b
    }

    /// `{name: torch._utils._rebuild_tensor_v2(storage "0" of `numel` floats, 0, size,
    /// stride)}` as `torch.save` writes a state dict.
    pub fn state_dict(name: &str, numel: i32, size: &[i32], stride: &[i32]) -> Vec<u8> {
        let mut b = vec![0x80, 2, b'}', b'('];
        b.extend(unicode(name));
        b.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        b.push(b'(');
        b.extend(unicode("storage"));
        b.extend(b"ctorch\nFloatStorage\n");
        b.extend(unicode("0"));
        b.extend(unicode("cpu"));
        b.extend(int(numel));
        b.extend(b"tQ");
        b.extend(int(0));
        b.extend(ints(size));
        b.extend(ints(stride));
        b.extend([0x89, b'}', b't', b'R', b'u', b'.']);
        b
    }

    /// A list put in the memo, then `rounds` times a pair of two copies of the memo
    /// entry stored back: each round doubles what a reader that copies memo entries
    /// builds, in 8 bytes.
    pub fn memo_doubling(rounds: usize) -> Vec<u8> {
        let mut b = vec![0x80, 2, b']', b'q', 0];
        for _ in 0..rounds {
            b.extend([b'h', 0, b'h', 0, 0x86, b'q', 0]);
        }
        b.push(b'.');
        b
    }
}

/// A PyTorch checkpoint as `torch.save` lays it out: `archive/data.pkl` and the tensor
/// data `archive/data/0`, stored.
fn checkpoint(path: &Path, data_pkl: &[u8], data: &[u8]) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("archive/data.pkl", stored).unwrap();
    zip.write_all(data_pkl).unwrap();
    zip.start_file("archive/data/0", stored).unwrap();
    zip.write_all(data).unwrap();
    zip.finish().unwrap();
}

fn read_checkpoint(name: &str, data_pkl: &[u8], data: &[u8]) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("anuvad-pickles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.bin"));
    checkpoint(&path, data_pkl, data);
    let result = anuvad::internals::marian::Checkpoint::read(&path)
        .map(|_| ())
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&path);
    result
}

#[test]
fn a_plain_pickled_tensor_still_loads() {
    let pkl = pickle::state_dict("w", 4, &[2, 2], &[2, 1]);
    read_checkpoint("plain", &pkl, &[0u8; 16]).unwrap();
}

#[test]
fn pickled_tensor_shapes_larger_than_their_storage_are_refused() {
    let max = i32::MAX;
    // (2^31−1)²: "capacity overflow" before; (1, 2^31−1): 8 GB asked for.
    for (size, stride) in [([max, max], [max, 1]), ([1, max], [max, 1])] {
        let pkl = pickle::state_dict("w", 4, &size, &stride);
        let err = read_checkpoint("shape", &pkl, &[0u8; 16]).unwrap_err();
        assert!(
            err.contains("tensor `w` of shape") && err.contains("needs more than the 16 bytes"),
            "{size:?}: {err}"
        );
    }
}

#[test]
fn a_pickle_that_doubles_itself_through_the_memo_is_refused() {
    // 60 rounds: 2^60 objects for a reader that copies memo entries, in 488 bytes.
    let err = read_checkpoint("memo", &pickle::memo_doubling(60), &[]).unwrap_err();
    assert!(
        err.contains("archive/data.pkl") && err.contains("copies of memo entries"),
        "{err}"
    );
}

#[test]
fn the_binary_refuses_a_hostile_marian_checkpoint_with_exit_5_naming_the_file() {
    let home = Home::new("model-files-marian");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-marian");
    let dir = home.path("hostile-marian");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["config.json", "source.spm", "target.spm", "vocab.json"] {
        std::fs::copy(fixture.join(f), dir.join(f)).unwrap();
    }
    checkpoint(
        &dir.join("pytorch_model.bin"),
        &pickle::memo_doubling(60),
        &[],
    );
    let article = home.path("article.txt");
    let mut cmd = home.command(&[
        "translate",
        article.to_str().unwrap(),
        "--model",
        dir.to_str().unwrap(),
    ]);
    let out = cmd.env("RUST_BACKTRACE", "1").output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("pytorch_model.bin") && err.contains("memo"),
        "{err}"
    );
    assert!(!err.contains("panicked") && !err.contains("  0: "), "{err}");
}

#[test]
fn a_marian_config_with_impossible_sizes_is_refused_naming_the_key() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-marian");
    let config = std::fs::read_to_string(fixture.join("config.json")).unwrap();
    let home = Home::new("model-files-marian-config");
    let cases = [
        (
            "encoder_attention_heads",
            "0",
            "`encoder_attention_heads` is 0",
        ),
        (
            "decoder_layers",
            "4294967295",
            "`decoder_layers` is 4294967295",
        ),
        (
            "max_position_embeddings",
            "1000000000",
            "`max_position_embeddings` is 1000000000",
        ),
        (
            "decoder_attention_heads",
            "3",
            "is not a multiple of `decoder_attention_heads` (3)",
        ),
        // Weights 32 wide: the first mismatch names its tensor, not a bare shape error.
        (
            "d_model",
            "64",
            "expected [d_model] with `d_model` = 64 from config.json",
        ),
    ];
    for (key, value, says) in cases {
        let mut v: serde_json::Value = serde_json::from_str(&config).unwrap();
        v[key] = serde_json::from_str(value).unwrap();
        let dir = home.path(&format!("marian-{key}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "model.safetensors",
            "source.spm",
            "target.spm",
            "vocab.json",
        ] {
            std::fs::copy(fixture.join(f), dir.join(f)).unwrap();
        }
        std::fs::write(dir.join("config.json"), v.to_string()).unwrap();
        let article = home.path("article.txt");
        let out = home.run(&[
            "translate",
            article.to_str().unwrap(),
            "--model",
            dir.to_str().unwrap(),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(5), "{key}={value}: {err}");
        assert!(
            err.contains("config.json") && err.contains(says),
            "{key}={value}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
