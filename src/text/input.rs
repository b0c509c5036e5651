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
    let (origin, bytes) = match path.filter(|p| p.as_os_str() != "-") {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|source| Error::Io {
                path: p.to_path_buf(),
                source,
            })?;
            (p.display().to_string(), bytes)
        }
        None => ("<stdin>".to_string(), read_stdin()?),
    };
    Ok(Raw {
        text: decode(bytes, &origin)?,
        origin,
    })
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

/// UTF-8 decode (a leading byte-order mark is dropped), naming the first bad byte.
pub fn decode(bytes: Vec<u8>, origin: &str) -> Result<String> {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    String::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        origin: origin.to_string(),
        offset: e.utf8_error().valid_up_to(),
    })
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
