//! The stages stay in order: every module of `src/` may use only the modules listed
//! before it in `ORDER` (and its own submodules), so nothing reaches back up the
//! pipeline. README.md ("How an article flows through the code") walks the same order.
//! The check reads the sources: every `crate::…` and `super::…` path outside test
//! modules.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first: plain configuration, the text stages, the shapes of results, the
/// checks, models and engines, the pipeline, then what drives it.
const ORDER: &[&str] = &[
    "error",
    "config",
    "text::script",
    "text::input",
    "text::segment",
    "text::chunk",
    "text",
    "record",
    // After record: its JSON events are stamped with `record::now_rfc3339`.
    "progress",
    "text::assemble",
    "facts::numbers",
    "facts::terms",
    "facts::translit",
    "facts::names",
    "facts",
    "review::checks",
    "review::align",
    "card",
    "chat_template",
    "settings",
    "gguf",
    "hub",
    "hub::pypi",
    "tokenizer::marian",
    "tokenizer",
    "models::kernels",
    "models::kernels::packed",
    "models::kernels::generic",
    "models::kernels::x86_avx2",
    "models::kernels::x86_avx512",
    "models::kernels::aarch64_neon",
    "models",
    "models::transformer",
    "models::gemma3",
    "models::qwen2",
    "models::qwen3",
    "models::llama",
    "models::pickle",
    "models::marian",
    "engine",
    "engine::sampling",
    "engine::search",
    "engine::decoder",
    "engine::marian",
    "review",
    "review::html",
    "eval::metrics",
    "pipeline::runner",
    "pipeline::select",
    "pipeline::translate",
    "pipeline::summarize",
    "pipeline",
    "output",
    "eval",
    "batch::source",
    "batch::report",
    "batch::store",
    "batch",
    "commands",
    "serve::worker",
    "serve",
    "serve::libre",
    "serve::native",
    "testing",
];

/// `src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|c| c != "mod")
        .collect();
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The longest module of `ORDER` that `path` (`a::b::Item`) starts with.
fn known_module(path: &str) -> Option<&'static str> {
    ORDER
        .iter()
        .copied()
        .filter(|m| path == *m || path.starts_with(&format!("{m}::")))
        .max_by_key(|m| m.len())
}

/// The paths a `use` tree or an expression names after `at` in `code`: `a::b::C`, or
/// each branch of `a::{b, c::{D, E}}`.
fn paths_at(code: &str, at: usize) -> Vec<String> {
    let rest = &code[at..];
    let head: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    let after = &rest[head.len()..];
    let head = head.trim_end_matches(':').to_string();
    if !after.starts_with('{') {
        return vec![head];
    }
    // The group's items, split at its top-level commas.
    let (mut depth, mut start, mut out) = (0, 1, Vec::new());
    for (i, c) in after.char_indices() {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                let item = after[start..i].trim();
                if !item.is_empty() {
                    let inner = paths_at(item, 0);
                    out.extend(inner.into_iter().map(|p| match p.as_str() {
                        "self" | "" => head.clone(),
                        _ if head.is_empty() => p,
                        _ => format!("{head}::{p}"),
                    }));
                }
                start = i + 1;
                if c == '}' {
                    break;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    out
}

/// The modules a file's code refers to (test modules left out).
fn references(module: &str, text: &str) -> BTreeSet<String> {
    let code = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        for path in paths_at(code, at + "crate::".len()) {
            out.extend(known_module(&path).map(str::to_string));
        }
    }
    // `super::` in a file's own code means its parent module; inside an inline
    // `mod name { … }` block it means the file's module itself.
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    let inline = inline_modules(code);
    for (at, _) in code.match_indices("super::") {
        let base = if inline.iter().any(|r| r.contains(&at)) {
            module
        } else {
            parent
        };
        for rest in paths_at(code, at + "super::".len()) {
            let path = if base.is_empty() {
                rest
            } else {
                format!("{base}::{rest}")
            };
            out.extend(
                known_module(&path)
                    .or(known_module(base))
                    .map(str::to_string),
            );
        }
    }
    out
}

/// Byte ranges of the inline `mod name { … }` blocks of `code`.
fn inline_modules(code: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("mod ") {
        let rest = &code[at + 4..];
        let name_end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if name_end == 0 || !rest[name_end..].trim_start().starts_with('{') {
            continue;
        }
        let open = at + 4 + name_end + rest[name_end..].find('{').unwrap_or(0);
        let mut depth = 0;
        for (i, c) in code[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        out.push(open..open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[test]
fn no_module_uses_one_that_comes_after_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let position = |m: &str| ORDER.iter().position(|o| *o == m);
    let mut wrong = Vec::new();
    let mut seen = 0;
    for file in files {
        let module = module_of(&src, &file);
        if module == "lib" || module == "main" {
            continue; // The crate's front door and the binary may use anything.
        }
        let Some(own) = position(&module) else {
            wrong.push(format!("{module} ({}) is not in ORDER", file.display()));
            continue;
        };
        seen += 1;
        let text = std::fs::read_to_string(&file).unwrap();
        for r in references(&module, &text) {
            let inside = r == module || r.starts_with(&format!("{module}::"));
            if !inside && position(&r).is_some_and(|p| p > own) {
                wrong.push(format!("{module} uses {r}, which comes after it"));
            }
        }
    }
    assert_eq!(seen, ORDER.len(), "every module in ORDER has a file");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_an_upward_import() {
    let text = "use crate::pipeline::Pipeline;\nuse super::segment::Document;\n";
    let r = references("text::chunk", text);
    assert!(
        r.contains("pipeline") && r.contains("text::segment"),
        "{r:?}"
    );
    // Grouped imports name every branch.
    let r = references(
        "text",
        "use crate::{config::Task, review::{self, html::render}};\n",
    );
    let want = ["config", "review", "review::html"];
    assert_eq!(r.into_iter().collect::<Vec<_>>(), want);
    // Inside an inline module, `super::` is the file's own module.
    let r = references("models::kernels", "mod avx2 {\n    use super::QK;\n}\n");
    assert_eq!(r.into_iter().collect::<Vec<_>>(), ["models::kernels"]);
    // Test modules may use whatever they test with.
    let r = references(
        "config",
        "fn a() {}\n#[cfg(test)]\nmod tests { use crate::batch; }\n",
    );
    assert!(r.is_empty(), "{r:?}");
}
