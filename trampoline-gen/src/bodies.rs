//! Finding and rewriting the application function bodies that name an intercepted import.
//!
//! Bodies are scanned in parallel. A byte-level pre-filter looks for the opcodes of `call`,
//! `return_call` and `ref.func` followed by a LEB128 index that is redirected; only bodies it
//! flags have their operators parsed, and only those that really name a redirected import are
//! re-encoded.

use std::ops::Range;

use rayon::prelude::*;
use wasm_encoder::reencode::Reencode;
use wasmparser::{BinaryReader, FunctionBody, Operator};

use crate::encode::read_leb;
use crate::error::{MergeError, Result};
use crate::remap::{app_error, AppRewriter, Redirect};

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

/// Whether `body` really names a redirected function (parses its operators; no re-encoding).
fn names_redirected(bytes: &[u8], range: &Range<usize>, redirect: &Redirect) -> Result<bool> {
    let body = FunctionBody::new(BinaryReader::new(&bytes[range.clone()], range.start as u64));
    let mut ops = body.get_operators_reader().map_err(MergeError::malformed)?;
    while !ops.eof() {
        match ops.read().map_err(MergeError::malformed)? {
            Operator::Call { function_index }
            | Operator::ReturnCall { function_index }
            | Operator::RefFunc { function_index }
                if redirect.get(function_index).is_some() =>
            {
                return Ok(true);
            }
            _ => {}
        }
    }
    Ok(false)
}

/// Re-encodes one body with redirected calls; `None` if it names no redirected function.
fn rewrite_body(
    bytes: &[u8],
    range: &Range<usize>,
    redirect: &Redirect,
) -> Result<Option<Vec<u8>>> {
    let body = FunctionBody::new(BinaryReader::new(&bytes[range.clone()], range.start as u64));
    let mut rw = AppRewriter::new(redirect);
    let mut f = rw
        .new_function_with_parsed_locals(&body)
        .map_err(app_error)?;
    let mut ops = body
        .get_operators_reader()
        .map_err(|e| app_error::<std::convert::Infallible>(e.into()))?;
    while !ops.eof() {
        let insn = rw.parse_instruction(&mut ops).map_err(app_error)?;
        f.instruction(&insn);
    }
    Ok(rw.hit.then(|| f.into_raw_body()))
}

/// Rewrites, in parallel, every body (given by its range in `bytes`) that names a redirected
/// function. Returns the rewritten bodies with their positions, in order.
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
            match names_redirected(bytes, range, redirect) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
            match rewrite_body(bytes, range, redirect) {
                Ok(Some(body)) => Some(Ok((i, body))),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
