//! Finding and rewriting the application function bodies that name an intercepted import.
//!
//! Bodies are scanned in parallel. A byte-level pre-filter looks for the opcodes of `call`,
//! `return_call` and `ref.func` followed by a LEB128 index that is redirected; only bodies it
//! flags have their operators parsed. In a body that really names a redirected import, only the
//! index immediates of those instructions are rewritten (in the same number of bytes when the
//! new index fits, so code offsets, e.g. in DWARF, stay valid); all other bytes are copied.

use std::ops::Range;

use rayon::prelude::*;
use wasmparser::{BinaryReader, FunctionBody, Operator};

use crate::encode::{leb, leb_len, read_leb};
use crate::error::{MergeError, Result};
use crate::remap::Redirect;

const CALL: u8 = 0x10;
const RETURN_CALL: u8 = 0x12;
const REF_FUNC: u8 = 0xd2;

/// Whether `body` may contain an instruction naming a redirected function. Never misses one:
/// any such instruction is its opcode byte followed by the LEB128 of a redirected index.
fn may_name_redirected(body: &[u8], redirect: &Redirect) -> bool {
    body.iter().enumerate().any(|(i, &b)| {
        matches!(b, CALL | RETURN_CALL | REF_FUNC)
            && read_leb(&body[i + 1..]).is_some_and(|(f, _)| redirect.get(f).is_some())
    })
}

/// The function-index immediates of `call`, `return_call` and `ref.func` in one body that name
/// a redirected function: their byte ranges in the module and the new target.
fn redirected_immediates(
    bytes: &[u8],
    range: &Range<usize>,
    redirect: &Redirect,
) -> Result<Vec<(Range<usize>, u32)>> {
    let body = FunctionBody::new(BinaryReader::new(&bytes[range.clone()], range.start as u64));
    let mut ops = body.get_operators_reader().map_err(MergeError::malformed)?;
    let mut found = Vec::new();
    while !ops.eof() {
        // All three opcodes are one byte long; the immediate follows.
        let start = ops.original_position() as usize + 1;
        match ops.read().map_err(MergeError::malformed)? {
            Operator::Call { function_index }
            | Operator::ReturnCall { function_index }
            | Operator::RefFunc { function_index } => {
                if let Some(to) = redirect.get(function_index) {
                    found.push((start..ops.original_position() as usize, to));
                }
            }
            _ => {}
        }
    }
    Ok(found)
}

/// Writes `v` as LEB128 in exactly `width` bytes if it fits (keeping padded encodings, as
/// linkers leave them, at their size), else minimally.
fn leb_in_width(v: u32, width: usize, out: &mut Vec<u8>) {
    if leb_len(u64::from(v)) > width || width > 5 {
        leb(v, out);
        return;
    }
    for i in 0..width {
        let mut byte = ((u64::from(v) >> (7 * i)) & 0x7f) as u8;
        if i + 1 < width {
            byte |= 0x80;
        }
        out.push(byte);
    }
}

/// The body at `range` with the given immediates replaced. Everything else is copied as is,
/// so the body keeps its size whenever each new index fits in the old immediate's bytes.
fn patch(bytes: &[u8], range: &Range<usize>, immediates: &[(Range<usize>, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(range.len() + 4 * immediates.len());
    let mut pos = range.start;
    for (imm, to) in immediates {
        out.extend_from_slice(&bytes[pos..imm.start]);
        leb_in_width(*to, imm.len(), &mut out);
        pos = imm.end;
    }
    out.extend_from_slice(&bytes[pos..range.end]);
    out
}

/// Rewrites, in parallel, every body (given by its range in `bytes`) that names a redirected
/// function. Returns the rewritten bodies (without size prefix) with their positions, in order.
pub(crate) fn rewrite_bodies(
    bytes: &[u8],
    bodies: &[Range<usize>],
    redirect: &Redirect,
) -> Result<Vec<(usize, Vec<u8>)>> {
    if redirect.is_empty() {
        return Ok(Vec::new());
    }
    bodies
        .par_iter()
        .enumerate()
        .with_min_len(64)
        .filter_map(|(i, range)| {
            if !may_name_redirected(&bytes[range.clone()], redirect) {
                return None;
            }
            match redirected_immediates(bytes, range, redirect) {
                Ok(imms) if imms.is_empty() => None,
                Ok(imms) => Some(Ok((i, patch(bytes, range, &imms)))),
                Err(e) => Some(Err(e)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patching_keeps_padded_widths() {
        let mut out = Vec::new();
        leb_in_width(7, 5, &mut out);
        assert_eq!(out, [0x87, 0x80, 0x80, 0x80, 0x00]);
        assert_eq!(read_leb(&out), Some((7, 5)));
        out.clear();
        leb_in_width(300, 1, &mut out);
        assert_eq!(out, [0xac, 0x02]);
        // call 3 (padded) and ref.func 3 (minimal) in a body; the call keeps its 5 bytes.
        let body = [0x00, 0x10, 0x83, 0x80, 0x80, 0x80, 0x00, 0xd2, 0x03, 0x0b];
        let patched = patch(&body, &(0..body.len()), &[(2..7, 200), (8..9, 200)]);
        assert_eq!(
            patched,
            [0x00, 0x10, 0xc8, 0x81, 0x80, 0x80, 0x00, 0xd2, 0xc8, 0x01, 0x0b]
        );
    }

    #[test]
    fn prefilter_sees_padded_and_minimal_indices() {
        let mut r = Redirect::default();
        r.insert(3, 100);
        assert!(may_name_redirected(&[0x00, CALL, 0x03, 0x0b], &r));
        assert!(may_name_redirected(
            &[0x00, CALL, 0x83, 0x80, 0x80, 0x80, 0x00, 0x0b],
            &r
        ));
        assert!(may_name_redirected(&[0x00, REF_FUNC, 0x03, 0x0b], &r));
        assert!(!may_name_redirected(&[0x00, CALL, 0x04, 0x0b], &r));
        assert!(!may_name_redirected(&[0x00, 0x41, 0x03, 0x0b], &r));
    }
}
