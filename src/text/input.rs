//! First stage: read an article from a file or stdin and make sure it is text we can
//! translate. Errors name the input and, for bad bytes, the byte offset.

use super::script::has_devanagari;
use crate::config::InputRules;
use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// An article as read: where it came from (for messages) and its text.
#[derive(Debug, Clone)]
pub struct Raw {
    pub origin: String,
    pub text: String,
}

/// Read `path`, or stdin when it is `None` or `-`.
pub fn read(path: Option<&Path>) -> Result<Raw> {
    read_at_most(path, usize::MAX)
}

/// Read `path` (stdin for `None` or `-`) if it can hold at most `max_chars`
/// characters: reading stops past `max_bytes(max_chars)`, so a huge file or an endless
/// pipe is refused without being read into memory.
pub fn read_at_most(path: Option<&Path>, max_chars: usize) -> Result<Raw> {
    let (origin, bytes) = match path.filter(|p| p.as_os_str() != "-") {
        Some(p) => {
            let origin = p.display().to_string();
            let io = |source| Error::Io {
                path: p.to_path_buf(),
                source,
            };
            let file = std::fs::File::open(p).map_err(io)?;
            (
                origin.clone(),
                read_bounded(file, &origin, max_chars).map_err(|e| e.or(io))?,
            )
        }
        None => {
            let stdin = std::io::stdin().lock();
            let bytes = read_bounded(stdin, "<stdin>", max_chars).map_err(|e| {
                e.or(|source| Error::Io {
                    path: "<stdin>".into(),
                    source,
                })
            })?;
            ("<stdin>".to_string(), bytes)
        }
    };
    Ok(Raw {
        text: decode(bytes, &origin)?,
        origin,
    })
}

/// The most bytes `max_chars` characters of UTF-8 can take (4 a character, and a
/// byte-order mark).
pub fn max_bytes(max_chars: usize) -> u64 {
    (max_chars as u64).saturating_mul(4).saturating_add(3)
}

/// A read error, or an input too large for the limit (an error that needs no io).
enum Bounded {
    Io(std::io::Error),
    Large(Error),
}

impl Bounded {
    fn or(self, io: impl FnOnce(std::io::Error) -> Error) -> Error {
        match self {
            Bounded::Io(e) => io(e),
            Bounded::Large(e) => e,
        }
    }
}

/// All of `reader`, unless it holds more than `max_bytes(max_chars)` bytes.
fn read_bounded(
    reader: impl Read,
    origin: &str,
    max_chars: usize,
) -> std::result::Result<Vec<u8>, Bounded> {
    let limit = max_bytes(max_chars);
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Bounded::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Bounded::Large(Error::TooLarge {
            origin: origin.to_string(),
            bytes: limit,
            max: max_chars,
        }));
    }
    Ok(bytes)
}

/// All of stdin.
pub fn read_stdin() -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Io {
            path: "<stdin>".into(),
            source,
        })?;
    Ok(bytes)
}

/// UTF-8 decode (a leading byte-order mark is dropped), naming the first bad byte; a
/// UTF-16 file (Windows "Unicode") is named as such, with the command that converts it.
pub fn decode(bytes: Vec<u8>, origin: &str) -> Result<String> {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    // UTF-16 text is either invalid UTF-8 or (when mostly ASCII) full of NUL bytes.
    let suspicious = bytes.contains(&0) || std::str::from_utf8(&bytes).is_err();
    if let Some(encoding) = suspicious.then(|| utf16_encoding(&bytes)).flatten() {
        return Err(Error::Utf16 {
            origin: origin.to_string(),
            encoding,
        });
    }
    String::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        origin: origin.to_string(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Which UTF-16 `bytes` look like: a byte-order mark says so, or the first few KB
/// decode (in one byte order) to text that is nearly all ASCII, whitespace,
/// Devanagari or punctuation.
fn utf16_encoding(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xFE]) {
        return Some("little-endian, with a byte-order mark");
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return Some("big-endian, with a byte-order mark");
    }
    let sample = &bytes[..bytes.len().min(4096)];
    if sample.len() < 4 {
        return None;
    }
    let plausible = |c: &char| {
        c.is_ascii_graphic()
            || c.is_whitespace()
            || ('\u{0900}'..='\u{097F}').contains(c)
            || ('\u{2000}'..='\u{206F}').contains(c)
    };
    for (name, little) in [("little-endian", true), ("big-endian", false)] {
        let units = sample.chunks_exact(2).map(|p| {
            if little {
                u16::from_le_bytes([p[0], p[1]])
            } else {
                u16::from_be_bytes([p[0], p[1]])
            }
        });
        let (mut all, mut good) = (0, 0);
        for c in char::decode_utf16(units) {
            all += 1;
            good += usize::from(c.as_ref().is_ok_and(plausible));
        }
        if good * 10 >= all * 9 {
            return Some(name);
        }
    }
    None
}

/// Reject input we cannot sensibly translate: empty, too long, or (unless `force`) not
/// Hindi.
pub fn check(origin: &str, text: &str, rules: &InputRules) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::EmptyInput {
            origin: origin.to_string(),
        });
    }
    let chars = text.chars().count();
    if chars > rules.max_chars {
        return Err(Error::TooLong {
            origin: origin.to_string(),
            chars,
            max: rules.max_chars,
        });
    }
    if !rules.force && !has_devanagari(text) {
        return Err(Error::NotHindi {
            origin: origin.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(text: &str, force: bool) -> Result<()> {
        let rules = InputRules {
            force,
            max_chars: 100,
        };
        check("a.txt", text, &rules)
    }

    #[test]
    fn invalid_utf8_names_the_byte_offset() {
        let mut bytes = "नमस्ते".as_bytes().to_vec();
        bytes.push(0xFF);
        let err = decode(bytes, "a.txt").unwrap_err();
        assert!(matches!(err, Error::NotUtf8 { offset: 18, .. }), "{err}");
        assert!(err.to_string().contains("byte offset 18"));
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let text = decode(b"\xEF\xBB\xBFabc".to_vec(), "a").unwrap();
        assert_eq!(text, "abc");
    }

    #[test]
    fn utf16_is_named_with_the_command_that_converts_it() {
        let utf16 = |little: bool, bom: bool| {
            let mut bytes: Vec<u8> = if bom {
                if little {
                    vec![0xFF, 0xFE]
                } else {
                    vec![0xFE, 0xFF]
                }
            } else {
                Vec::new()
            };
            for u in "नमस्ते दुनिया। Hello.\n".encode_utf16() {
                bytes.extend(if little {
                    u.to_le_bytes()
                } else {
                    u.to_be_bytes()
                });
            }
            bytes
        };
        for (little, bom, says) in [
            (true, true, "UTF-16 (little-endian, with a byte-order mark)"),
            (false, true, "UTF-16 (big-endian, with a byte-order mark)"),
            (true, false, "UTF-16 (little-endian)"),
            (false, false, "UTF-16 (big-endian)"),
        ] {
            let err = decode(utf16(little, bom), "a.txt").unwrap_err();
            assert_eq!(err.exit_code(), 3);
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("a.txt is {says}, not UTF-8")),
                "{msg}"
            );
            assert!(msg.contains("iconv -f UTF-16 -t UTF-8"), "{msg}");
        }
        // Other bad bytes keep their offset; Latin-1 is not mistaken for UTF-16.
        let err = decode(b"Mumbai \xe9t\xe9 \xff".to_vec(), "b.txt").unwrap_err();
        assert!(err.to_string().contains("byte offset 7"), "{err}");
    }

    #[test]
    fn whitespace_only_input_is_empty() {
        assert!(matches!(
            check_text(" \n\t\n", false),
            Err(Error::EmptyInput { .. })
        ));
    }

    #[test]
    fn english_only_input_needs_force() {
        assert!(matches!(
            check_text("Hello world.", false),
            Err(Error::NotHindi { .. })
        ));
        assert!(check_text("Hello world.", true).is_ok());
        assert!(check_text("नमस्ते दुनिया।", false).is_ok());
    }

    #[test]
    fn an_article_over_the_limit_is_too_long() {
        let long = "क".repeat(101);
        let err = check_text(&long, false).unwrap_err();
        assert!(
            matches!(
                err,
                Error::TooLong {
                    chars: 101,
                    max: 100,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("--max-article-chars"));
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_the_path() {
        let err = read(Some(Path::new("/nonexistent/article.txt"))).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/article.txt"),
            "{err}"
        );
    }
}
