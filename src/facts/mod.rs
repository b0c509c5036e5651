//! The facts of a Hindi source that a faithful English translation must keep: its
//! numbers (`numbers`: found, compared by value, and the digits an answer may write)
//! and its names (`names`, with the gazetteer and glossary of `terms` and the
//! transliteration of `translit`).

pub(crate) mod names;
pub(crate) mod numbers;
pub(crate) mod terms;
pub(crate) mod translit;
