//! First stage: read an article from a file or stdin and make sure it is text we can
//! translate. Errors name the input and, for bad bytes, the byte offset.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// An article as read: where it came from (for messages) and its raw text.
#[derive(Debug, Clone)]
pub struct Article {
    pub origin: String,
    pub text: String,
}

/// Read `path`, or stdin when it is `None` or `-`.
pub fn read(path: Option<&Path>) -> Result<Article> {
    let (origin, bytes) = match path.filter(|p| p.as_os_str() != "-") {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|source| Error::Io {
                path: p.to_path_buf(),
                source,
            })?;
            (p.display().to_string(), bytes)
        }
        None => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|source| Error::Io {
                    path: "<stdin>".into(),
                    source,
                })?;
            ("<stdin>".to_string(), bytes)
        }
    };
    Ok(Article {
        text: decode(bytes, &origin)?,
        origin,
    })
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

/// Reject input we cannot sensibly translate: empty, or (unless `force`) not Hindi.
pub fn check(article: &Article, force: bool) -> Result<()> {
    if article.text.trim().is_empty() {
        return Err(Error::EmptyInput {
            origin: article.origin.clone(),
        });
    }
    if !force && !crate::segment::has_devanagari(&article.text) {
        return Err(Error::NotHindi {
            origin: article.origin.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(text: &str) -> Article {
        Article {
            origin: "a.txt".into(),
            text: text.into(),
        }
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
            check(&article(" \n\t\n"), false),
            Err(Error::EmptyInput { .. })
        ));
    }

    #[test]
    fn english_only_input_needs_force() {
        assert!(matches!(
            check(&article("Hello world."), false),
            Err(Error::NotHindi { .. })
        ));
        assert!(check(&article("Hello world."), true).is_ok());
        assert!(check(&article("नमस्ते दुनिया।"), false).is_ok());
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
