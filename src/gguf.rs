//! A GGUF file (a model from outside: hostile until checked) held against its own size
//! before and after candle reads it. candle's reader bounds each string and array by
//! the bytes left in the file, but keeps every array element as a 32-byte `Value`: a
//! 300 MB file of one-byte elements would cost 10 GB. `scan_header` walks the metadata
//! first without keeping anything, and `check_tensor_data` makes sure every tensor's
//! bytes lie inside the file (checked arithmetic: shapes come from the file too) before
//! any is read.

use candle_core::quantized::gguf_file;
use std::io::{BufReader, Read, Seek, SeekFrom};

/// Array elements in all of the metadata: real vocabularies have a few hundred thousand
/// tokens, scores and types (Gemma 3: 3 × 262,144; Llama 3 adds 280,147 merges).
pub const MAX_ARRAY_ELEMENTS: u64 = 1 << 23;
/// Metadata entries and tensors (Gemma 3 270M has 40 and 236; big models a few thousand).
pub const MAX_ENTRIES: u64 = 1 << 16;
/// A metadata key.
const MAX_KEY_BYTES: u64 = 1 << 16;
/// Elements of one tensor (2^40: a few TB of weights, past any real model).
const MAX_TENSOR_ELEMENTS: u64 = 1 << 40;

/// Walk the header of the GGUF `r` (positioned at its start) without keeping any value,
/// and refuse counts that would make reading it allocate far more than the file holds.
/// Leaves `r` at the start again.
pub fn scan_header<R: Read + Seek>(r: &mut BufReader<R>) -> Result<(), String> {
    let size = r.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
    r.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut s = Scan {
        r,
        size,
        v1: false,
        elements: 0,
    };
    s.header()?;
    s.r.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    Ok(())
}

struct Scan<'a, R> {
    r: &'a mut BufReader<R>,
    size: u64,
    /// GGUF v1 writes lengths as u32, later versions as u64.
    v1: bool,
    elements: u64,
}

impl<R: Read + Seek> Scan<'_, R> {
    fn pos(&mut self) -> Result<u64, String> {
        self.r.stream_position().map_err(|e| e.to_string())
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut b = [0u8; N];
        let at = self.pos()?;
        self.r.read_exact(&mut b).map_err(|_| {
            format!(
                "the file ends at byte {} inside its header",
                at.max(self.size)
            )
        })?;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn length(&mut self) -> Result<u64, String> {
        if self.v1 {
            Ok(self.u32()? as u64)
        } else {
            Ok(u64::from_le_bytes(self.bytes()?))
        }
    }

    /// Skip `n` bytes that must lie inside the file.
    fn skip(&mut self, n: u64, what: &str) -> Result<(), String> {
        let at = self.pos()?;
        if n > self.size.saturating_sub(at) {
            return Err(format!(
                "{what} of {n} bytes at byte {at} runs past the end of the file ({} bytes)",
                self.size
            ));
        }
        // Relative seeks keep the buffer: a vocabulary is 262,144 short strings.
        self.r.seek_relative(n as i64).map_err(|e| e.to_string())?;
        Ok(())
    }

    fn string(&mut self, what: &str, max: u64) -> Result<(), String> {
        let at = self.pos()?;
        let n = self.length()?;
        if n > max {
            return Err(format!(
                "{what} at byte {at} is {n} bytes long (at most {max})"
            ));
        }
        self.skip(n, what)
    }

    fn header(&mut self) -> Result<(), String> {
        let magic = self.bytes::<4>()?;
        if &magic != b"GGUF" {
            return Err(format!(
                "it does not start with the magic bytes \"GGUF\" (starts with {magic:02x?})"
            ));
        }
        let version = self.u32()?;
        if !(1..=3).contains(&version) {
            return Err(format!("GGUF version {version} is not 1, 2 or 3"));
        }
        self.v1 = version == 1;
        let tensors = self.length()?;
        let entries = self.length()?;
        for (n, what) in [(tensors, "tensors"), (entries, "metadata entries")] {
            if n > MAX_ENTRIES {
                return Err(format!(
                    "the header declares {n} {what} (at most {MAX_ENTRIES})"
                ));
            }
        }
        for _ in 0..entries {
            let at = self.pos()?;
            self.string(&format!("the metadata key at byte {at}"), MAX_KEY_BYTES)?;
            let ty = self.u32()?;
            self.value(ty, 0, at)?;
        }
        Ok(())
    }

    /// Skip one value of type `ty` (GGUF's numbering) of the entry starting at `entry`.
    fn value(&mut self, ty: u32, depth: usize, entry: u64) -> Result<(), String> {
        match ty {
            0 | 1 | 7 => self.skip(1, "a value"),
            2 | 3 => self.skip(2, "a value"),
            4..=6 => self.skip(4, "a value"),
            10..=12 => self.skip(8, "a value"),
            8 => self.string(&format!("a string of the entry at byte {entry}"), u64::MAX),
            9 if depth < 2 => {
                let inner = self.u32()?;
                let n = self.length()?;
                self.elements = self.elements.saturating_add(n);
                if self.elements > MAX_ARRAY_ELEMENTS {
                    return Err(format!(
                        "the array of the entry at byte {entry} makes {} array elements in the metadata (at most {MAX_ARRAY_ELEMENTS})",
                        self.elements
                    ));
                }
                match inner {
                    // Fixed-size elements: one bounds check for all of them.
                    0..=7 | 10..=12 => {
                        let each = match inner {
                            0 | 1 | 7 => 1,
                            2 | 3 => 2,
                            4..=6 => 4,
                            _ => 8,
                        };
                        self.skip(n.saturating_mul(each), "an array")
                    }
                    _ => (0..n).try_for_each(|_| self.value(inner, depth + 1, entry)),
                }
            }
            9 => Err(format!(
                "the entry at byte {entry} nests arrays more than two deep"
            )),
            other => Err(format!(
                "the entry at byte {entry} has value type {other}, which GGUF does not define"
            )),
        }
    }
}

/// Every tensor's bytes inside the file of `size` bytes, its element count a whole
/// number of blocks, and its rows (the innermost dimension) too for quantized types.
pub fn check_tensor_data(content: &gguf_file::Content, size: u64) -> Result<(), String> {
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    for name in names {
        let t = &content.tensor_infos[name];
        let dims = t.shape.dims();
        let elements = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
            .filter(|&n| n <= MAX_TENSOR_ELEMENTS)
            .ok_or_else(|| format!("tensor `{name}` has an impossible shape {dims:?}"))?;
        let block = t.ggml_dtype.block_size() as u64;
        let cols = dims.last().copied().unwrap_or(1) as u64;
        if !elements.is_multiple_of(block) || !cols.is_multiple_of(block) {
            return Err(format!(
                "tensor `{name}` is {dims:?}, not whole blocks of {block} {:?} values",
                t.ggml_dtype
            ));
        }
        let bytes = elements / block * t.ggml_dtype.type_size() as u64;
        let end = content
            .tensor_data_offset
            .checked_add(t.offset)
            .and_then(|start| start.checked_add(bytes));
        match end {
            Some(end) if end <= size => {}
            _ => {
                return Err(format!(
                    "tensor `{name}` ({bytes} bytes at data offset {}) runs past the end of the file ({size} bytes)",
                    t.offset
                ));
            }
        }
    }
    Ok(())
}
