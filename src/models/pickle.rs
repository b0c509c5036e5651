//! A PyTorch `.bin` checkpoint (a zip of pickles) read within bounds. candle's pickle
//! reader builds every object it is told to: a memo entry fetched again is a deep copy,
//! so a 300-byte pickle that doubles one list through the memo grows without end, and
//! tensor shapes come straight from the pickle ((2^31−1)² overflowed, (1, 2^31−1) asked
//! for 8 GB). So before candle reads a pickle, `scan` runs its opcodes on sizes alone
//! and refuses one that would build more than a small multiple of its own length; and
//! before a tensor is read, its bytes (checked arithmetic) must lie inside its record
//! in the zip. Nothing in a pickle is executed either way: GLOBAL/REDUCE only name
//! classes.

use candle_core::{Result, Tensor, bail};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// A pickle's `data.pkl`: real checkpoints' are tens of kilobytes (one entry per tensor).
const MAX_PICKLE_BYTES: u64 = 64 << 20;

/// All the tensors of the PyTorch checkpoint at `path`, read within bounds.
pub fn read_all(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let file_len = std::fs::metadata(path)?.len();
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(std::fs::File::open(path)?))
        .map_err(|e| candle_core::Error::msg(format!("not a PyTorch zip checkpoint: {e}")))?;
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<std::result::Result<_, _>>()
        .map_err(candle_core::Error::wrap)?;
    for name in names.iter().filter(|n| n.ends_with("data.pkl")) {
        let entry = zip.by_name(name).map_err(candle_core::Error::wrap)?;
        if entry.size() > MAX_PICKLE_BYTES {
            bail!(
                "{name} is {} bytes; at most {MAX_PICKLE_BYTES}",
                entry.size()
            )
        }
        let mut bytes = Vec::new();
        entry.take(MAX_PICKLE_BYTES + 1).read_to_end(&mut bytes)?;
        scan(&bytes).map_err(|e| candle_core::Error::msg(format!("{name}: {e}")))?;
    }
    let pth = candle_core::pickle::PthTensors::new(path, None)?;
    let mut infos: Vec<_> = pth.tensor_infos().iter().collect();
    infos.sort_by(|a, b| a.0.cmp(b.0));
    for (name, info) in &infos {
        let entry = zip
            .by_name(&info.path)
            .map_err(|e| candle_core::Error::msg(format!("tensor `{name}`: {}: {e}", info.path)))?;
        let room = entry.size().min(file_len);
        let bytes = info
            .layout
            .dims()
            .iter()
            .try_fold(info.dtype.size_in_bytes() as u64, |acc, &d| {
                acc.checked_mul(d as u64)
            })
            .and_then(|b| b.checked_add(info.layout.start_offset() as u64));
        match bytes {
            Some(b) if b <= room => {}
            _ => bail!(
                "tensor `{name}` of shape {:?} ({:?}) needs more than the {room} bytes its record {} holds",
                info.layout.dims(),
                info.dtype,
                info.path
            ),
        }
    }
    let mut out = Vec::with_capacity(infos.len());
    for (name, _) in infos {
        if let Some(t) = pth.get(name)? {
            out.push((name.clone(), t));
        }
    }
    Ok(out)
}

/// Objects candle's reader may build for a pickle of `len` bytes: every opcode builds at
/// most a few, so only memo copies can go past this.
fn budget(len: usize) -> u64 {
    16 * len as u64 + (1 << 20)
}

#[derive(Clone, Copy)]
enum Item {
    Mark,
    /// An object of this many parts (nested objects and string bytes).
    Obj(u64),
}

/// Run the pickle's opcodes (the ones candle's reader knows) on object sizes alone and
/// refuse it when the objects built would pass `budget`.
pub fn scan(data: &[u8]) -> std::result::Result<(), String> {
    let limit = budget(data.len());
    let mut stack: Vec<Item> = Vec::new();
    let mut memo: HashMap<u32, u64> = HashMap::new();
    let mut built: u64 = 0;
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> std::result::Result<&[u8], String> {
        let end = at.checked_add(n).filter(|&e| e <= data.len());
        let end = end.ok_or_else(|| format!("the pickle ends inside the opcode at byte {at}"))?;
        let s = &data[*at..end];
        *at = end;
        Ok(s)
    };
    let pop = |stack: &mut Vec<Item>| match stack.pop() {
        Some(Item::Obj(w)) => Ok(w),
        _ => Err("an opcode pops from an empty stack or a mark".to_string()),
    };
    let to_mark = |stack: &mut Vec<Item>| -> std::result::Result<u64, String> {
        let mut sum = 0u64;
        loop {
            match stack.pop() {
                Some(Item::Obj(w)) => sum = sum.saturating_add(w),
                Some(Item::Mark) => return Ok(sum),
                None => return Err("no mark on the stack".into()),
            }
        }
    };
    let add_to_top = |stack: &mut Vec<Item>, w: u64| match stack.last_mut() {
        Some(Item::Obj(top)) => {
            *top = top.saturating_add(w);
            Ok(())
        }
        _ => Err("nothing to add to".to_string()),
    };
    while at < data.len() {
        let op_at = at;
        let op = take(&mut at, 1)?[0];
        let new: u64 = match op {
            0x80 => {
                take(&mut at, 1)?;
                continue;
            }
            b'c' => {
                let mut n = 0;
                for _ in 0..2 {
                    let rest = &data[at..];
                    let line = rest
                        .iter()
                        .position(|&b| b == b'\n')
                        .ok_or("a GLOBAL without its newline")?;
                    at += line + 1;
                    n += line as u64;
                }
                stack.push(Item::Obj(1 + n));
                1 + n
            }
            b'K' | b'M' | b'J' | b'G' | 0x8a => {
                let n = match op {
                    b'K' => 1,
                    b'M' => 2,
                    b'J' => 4,
                    b'G' => 8,
                    _ => take(&mut at, 1)?[0] as usize,
                };
                take(&mut at, n)?;
                stack.push(Item::Obj(1));
                1
            }
            b'X' => {
                let len = u32::from_le_bytes(take(&mut at, 4)?.try_into().unwrap()) as usize;
                take(&mut at, len)?;
                stack.push(Item::Obj(1 + len as u64));
                1 + len as u64
            }
            b'Q' => {
                let w = pop(&mut stack)?;
                stack.push(Item::Obj(w + 1));
                1
            }
            // candle's reader takes DICT (`d`) for EMPTY_DICT: sizes follow what it builds.
            b'd' => {
                stack.push(Item::Obj(1));
                1
            }
            b't' => {
                let w = to_mark(&mut stack)?;
                stack.push(Item::Obj(w + 1));
                1
            }
            0x85..=0x87 => {
                let mut w = 1;
                for _ in 0..(op - 0x84) {
                    w += pop(&mut stack)?;
                }
                stack.push(Item::Obj(w));
                1
            }
            0x88 | 0x89 | b'N' | b'}' | b')' | b']' => {
                stack.push(Item::Obj(1));
                1
            }
            b'a' | b's' | b'b' => {
                let mut w = pop(&mut stack)?;
                if op == b's' {
                    w += pop(&mut stack)?;
                }
                add_to_top(&mut stack, w + 1)?;
                1
            }
            b'e' | b'u' => {
                let w = to_mark(&mut stack)?;
                add_to_top(&mut stack, w)?;
                0
            }
            b'(' => {
                stack.push(Item::Mark);
                0
            }
            b'R' | 0x81 => {
                let w = pop(&mut stack)? + pop(&mut stack)?;
                stack.push(Item::Obj(w + 1));
                1
            }
            b'h' | b'j' => {
                let id = if op == b'h' {
                    take(&mut at, 1)?[0] as u32
                } else {
                    u32::from_le_bytes(take(&mut at, 4)?.try_into().unwrap())
                };
                let w = *memo
                    .get(&id)
                    .ok_or(format!("memo entry {id} is fetched before it is stored"))?;
                stack.push(Item::Obj(w));
                // candle copies the whole object.
                w
            }
            b'q' | b'r' => {
                let id = if op == b'q' {
                    take(&mut at, 1)?[0] as u32
                } else {
                    u32::from_le_bytes(take(&mut at, 4)?.try_into().unwrap())
                };
                let w = match stack.last() {
                    Some(Item::Obj(w)) => *w,
                    _ => return Err(format!("memo store at byte {op_at} with nothing to store")),
                };
                memo.insert(id, w);
                w
            }
            b'.' => return Ok(()),
            other => {
                return Err(format!(
                    "opcode 0x{other:02x} at byte {op_at} is not one a PyTorch checkpoint uses"
                ));
            }
        };
        built = built.saturating_add(new);
        if built > limit {
            return Err(format!(
                "the pickle would build more than {limit} objects by byte {op_at} (copies of memo entries); it is not a plain checkpoint"
            ));
        }
    }
    Err("the pickle has no STOP opcode".into())
}
