//! Which script a character is in, for the checks and masks that keep Hindi out of
//! English and tell Hindi input from other text.

/// Devanagari and Devanagari Extended.
pub fn is_devanagari(c: char) -> bool {
    matches!(c, '\u{0900}'..='\u{097F}' | '\u{A8E0}'..='\u{A8FF}')
}

pub fn has_devanagari(text: &str) -> bool {
    text.chars().any(is_devanagari)
}

/// Whether a character would put Devanagari (or another script of U+0800–U+0FFF, or
/// Devanagari Extended) into an answer that must be English: the engines mask tokens
/// that write one.
pub fn is_indic(c: char) -> bool {
    ('\u{0800}'..='\u{0FFF}').contains(&c) || ('\u{A8E0}'..='\u{A8FF}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devanagari_is_found_in_letters_digits_and_the_extended_block_only() {
        assert!(has_devanagari("Score: १२५/३"));
        assert!(!has_devanagari("Only English, 2025."));
        assert!(has_devanagari("\u{A8F2}"));
        assert!(!has_devanagari("\u{0980}")); // Bengali, the next block
        assert!(
            is_indic('\u{0980}'),
            "but an English answer must not write it either"
        );
    }
}
