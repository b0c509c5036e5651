//! Batch inputs → work items with stable ids: files, directories (recursive, `*.txt`
//! and `*.md`), JSONL feeds, or JSONL on stdin. A file's content is read only when its
//! item is worked on, so a shard reads just its own slice; a JSONL line that cannot be
//! used becomes an item that fails with its line number instead of stopping the run.

use crate::error::{Error, Result};
use crate::text::input;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One article to work on.
#[derive(Debug)]
pub struct Item {
    /// Stable id: the path relative to the input root, or the record's `id`.
    pub id: String,
    /// Where it came from, for messages: a path, or `feed.jsonl:12`.
    pub origin: String,
    content: Content,
}

#[derive(Debug)]
enum Content {
    File(PathBuf),
    Record(Box<ArticleIn>),
    /// A feed line whose bytes are not UTF-8 (offset in the feed).
    NotUtf8 {
        file: String,
        line: usize,
        offset: usize,
    },
    /// A feed line that is not a usable record.
    BadRecord(String),
    /// A directory or entry that could not be read while walking an input directory.
    Unreadable {
        path: PathBuf,
        kind: std::io::ErrorKind,
        message: String,
    },
}

/// An article's text and the fields that travel with it to the output.
#[derive(Debug, Clone, Default)]
pub struct ArticleIn {
    pub text: String,
    pub title: Option<String>,
    pub url: Option<String>,
    /// Every other field of a JSONL record, carried through untouched.
    pub extra: Map<String, Value>,
}

impl Item {
    #[cfg(test)]
    pub fn read(&self) -> Result<ArticleIn> {
        self.read_at_most(usize::MAX)
    }

    /// The article's text and fields; bad bytes or a bad record are errors here, for
    /// this item only. A file too large for `max_chars` is refused unread.
    pub fn read_at_most(&self, max_chars: usize) -> Result<ArticleIn> {
        match &self.content {
            Content::File(path) => Ok(ArticleIn {
                text: input::read_at_most(Some(path), max_chars)?.text,
                ..ArticleIn::default()
            }),
            Content::Record(a) => Ok((**a).clone()),
            Content::NotUtf8 { file, line, offset } => Err(Error::NotUtf8 {
                origin: format!("{file} (line {line})"),
                offset: *offset,
            }),
            Content::BadRecord(message) => Err(Error::BadRecord {
                origin: self.origin.clone(),
                message: message.clone(),
            }),
            Content::Unreadable {
                path,
                kind,
                message,
            } => Err(Error::Io {
                path: path.clone(),
                source: std::io::Error::new(*kind, message.clone()),
            }),
        }
    }
}

/// Every item of `inputs`, in order: a directory's files sorted by path, a feed's
/// records in line order. A missing input is an error for the whole run (a typo in
/// the command, not a bad article), and so is finding no articles at all (a wrong
/// directory or an empty feed would otherwise "succeed" every night). A subdirectory
/// that cannot be read is an item that fails, like a bad article.
pub fn collect(inputs: &[PathBuf]) -> Result<Vec<Item>> {
    let items = collect_all(inputs)?;
    if items.is_empty() {
        return Err(Error::NoArticles {
            inputs: inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(items)
}

fn collect_all(inputs: &[PathBuf]) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            items.extend(records(&input::read_stdin()?, "<stdin>"));
            continue;
        }
        let meta = std::fs::metadata(input).map_err(|source| Error::Io {
            path: input.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(input, &mut files);
            files.sort_by(|a, b| a.0.cmp(&b.0));
            for (f, error) in files {
                let rel = f.strip_prefix(input).unwrap_or(&f);
                let id = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                let content = match error {
                    // The input directory itself: a problem with the command, not an article.
                    Some(source) if f == *input => {
                        return Err(Error::Io { path: f, source });
                    }
                    None => Content::File(f.clone()),
                    Some(e) => Content::Unreadable {
                        path: f.clone(),
                        kind: e.kind(),
                        message: e.to_string(),
                    },
                };
                items.push(Item {
                    id,
                    origin: f.display().to_string(),
                    content,
                });
            }
        } else if has_extension(input, &["jsonl"]) {
            let bytes = std::fs::read(input).map_err(|source| Error::Io {
                path: input.clone(),
                source,
            })?;
            items.extend(records(&bytes, &input.display().to_string()));
        } else {
            items.push(Item {
                id: input.display().to_string(),
                origin: input.display().to_string(),
                content: Content::File(input.clone()),
            });
        }
    }
    Ok(items)
}

fn has_extension(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Article files under `dir`: `*.txt` and `*.md`, skipping hidden entries. Symlinked
/// directories are not followed (no loops); symlinked files are. A directory or entry
/// that cannot be read is listed with its error, so it fails alone.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, Option<std::io::Error>)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return out.push((dir.to_path_buf(), Some(e))),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                out.push((dir.to_path_buf(), Some(e)));
                // A failing directory stream may repeat its error forever.
                return;
            }
        };
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        match entry.file_type() {
            Err(e) => out.push((path, Some(e))),
            Ok(kind) if kind.is_dir() => walk(&path, out),
            Ok(kind)
                if (kind.is_file() || (kind.is_symlink() && path.is_file()))
                    && has_extension(&path, &["txt", "md"]) =>
            {
                out.push((path, None))
            }
            Ok(_) => {}
        }
    }
}

/// The records of a JSONL feed. Blank lines are skipped; a line that is not UTF-8,
/// not a JSON object, or lacks `id` or `text` becomes a failing item named by its line.
fn records(bytes: &[u8], origin: &str) -> Vec<Item> {
    let mut items = Vec::new();
    // A byte-order mark (Windows editors write one) is not part of the first record.
    let (bytes, mut offset) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, 3),
        None => (bytes, 0),
    };
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let at = format!("{origin}:{}", n + 1);
        let line_offset = offset;
        offset += line.len() + 1;
        let content = match std::str::from_utf8(line) {
            Err(e) => Content::NotUtf8 {
                file: origin.to_string(),
                line: n + 1,
                offset: line_offset + e.valid_up_to(),
            },
            Ok(s) if s.trim().is_empty() => continue,
            Ok(s) => match parse_record(s) {
                Ok((id, article)) => {
                    items.push(Item {
                        id,
                        origin: at,
                        content: Content::Record(Box::new(article)),
                    });
                    continue;
                }
                Err(message) => Content::BadRecord(message),
            },
        };
        // Without a usable id, the line itself names the item.
        items.push(Item {
            id: at.clone(),
            origin: at,
            content,
        });
    }
    items
}

fn parse_record(line: &str) -> std::result::Result<(String, ArticleIn), String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON ({e})"))?;
    let Value::Object(mut fields) = value else {
        return Err("a record must be a JSON object like {\"id\": …, \"text\": …}".into());
    };
    let id = match fields.remove("id") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("the record has no \"id\" (a non-empty string or a number)".into()),
    };
    let text = match fields.remove("text") {
        Some(Value::String(s)) => s,
        _ => return Err(format!("record {id:?} has no \"text\" string")),
    };
    let mut string_field = |name: &str| match fields.remove(name) {
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            // Not a string: carry it through untouched rather than guess.
            fields.insert(name.to_string(), other);
            None
        }
        None => None,
    };
    let title = string_field("title");
    let url = string_field("url");
    Ok((
        id,
        ArticleIn {
            text,
            title,
            url,
            extra: fields,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn jsonl_records_keep_their_fields_and_bad_lines_fail_alone() {
        let feed = "{\"id\": \"a\", \"text\": \"नमस्ते\", \"title\": \"शीर्षक\", \"section\": \"desh\"}\n\
                    \n\
                    not json\n\
                    {\"id\": 7, \"text\": \"दो\"}\n\
                    {\"text\": \"no id\"}\n";
        let items = records(feed.as_bytes(), "feed.jsonl");
        assert_eq!(ids(&items), ["a", "feed.jsonl:3", "7", "feed.jsonl:5"]);
        let a = items[0].read().unwrap();
        assert_eq!(a.title.as_deref(), Some("शीर्षक"));
        assert_eq!(a.extra["section"], "desh");
        let err = items[1].read().unwrap_err();
        assert_eq!(err.kind(), "bad_record");
        assert!(
            err.to_string().starts_with("feed.jsonl:3: not valid JSON"),
            "{err}"
        );
        assert!(
            items[3]
                .read()
                .unwrap_err()
                .to_string()
                .contains("no \"id\"")
        );
    }

    #[test]
    fn a_line_with_bad_bytes_names_its_byte_offset() {
        let mut feed = b"{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"b\", \"text\": \"".to_vec();
        feed.push(0xFF);
        feed.extend_from_slice(b"\"}\n");
        let items = records(&feed, "feed.jsonl");
        let err = items[1].read().unwrap_err();
        assert_eq!(err.kind(), "not_utf8");
        assert!(
            err.to_string()
                .starts_with("feed.jsonl (line 2) is not valid UTF-8 at byte offset 46"),
            "{err}"
        );
    }

    #[test]
    fn directories_give_sorted_relative_ids_of_text_and_markdown_files() {
        let dir = std::env::temp_dir().join(format!("anuvad-source-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for f in [
            "b/2.txt",
            "b/1.md",
            "a.txt",
            "skip.json",
            ".hidden/x.txt",
            "b/.x.txt",
        ] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "पाठ").unwrap();
        }
        let items = collect(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(ids(&items), ["a.txt", "b/1.md", "b/2.txt"]);
        assert_eq!(items[0].read().unwrap().text, "पाठ");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_input_fails_the_run_naming_it() {
        let err = collect(&[PathBuf::from("/nonexistent/feed")]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/feed"));
    }
}
