//! Reading a packed module back without a runtime: the `wasivfs` custom sections, the initial
//! contents of a memory region, and passive data segments.

use wasmparser::{DataKind, Operator, Parser, Payload};

use crate::error::{MergeError, Result};
use crate::wasi;

/// Payloads of all `wasivfs` custom sections of `module`, in order (one per pack).
///
/// A malformed module yields the sections found before the point where parsing failed.
pub fn wasivfs_sections(module: &[u8]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload {
            Ok(Payload::CustomSection(r)) if r.name() == wasi::CUSTOM_SECTION => {
                found.push(r.data().to_vec());
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    found
}

/// The initial contents of `len` bytes at `addr` in memory `memory_index` of `module`: the
/// active data segments of that memory overlaid, in order, onto a zeroed buffer.
pub fn memory_region(module: &[u8], memory_index: u32, addr: u32, len: u32) -> Result<Vec<u8>> {
    let fail = |reason: String| MergeError::Readback {
        memory: memory_index,
        reason,
    };
    let start = u64::from(addr);
    let end = start + u64::from(len);
    let mut buf = vec![0u8; len as usize];
    for payload in Parser::new(0).parse_all(module) {
        let Payload::DataSection(reader) = payload.map_err(MergeError::malformed)? else {
            continue;
        };
        for (i, datum) in reader.into_iter().enumerate() {
            let datum = datum.map_err(MergeError::malformed)?;
            let DataKind::Active {
                memory_index: mem,
                offset_expr,
            } = datum.kind
            else {
                continue;
            };
            if mem != memory_index {
                continue;
            }
            let mut ops = offset_expr.get_operators_reader();
            let offset = match ops.read().map_err(MergeError::malformed)? {
                Operator::I32Const { value } => u64::from(value as u32),
                Operator::I64Const { value } => value as u64,
                _ => return Err(fail(format!("data segment {i} has a non-constant offset"))),
            };
            let seg_end = offset + datum.data.len() as u64;
            let (lo, hi) = (offset.max(start), seg_end.min(end));
            if lo < hi {
                let dst = (lo - start) as usize..(hi - start) as usize;
                let src = (lo - offset) as usize..(hi - offset) as usize;
                buf[dst].copy_from_slice(&datum.data[src]);
            }
        }
    }
    Ok(buf)
}

/// The bytes of data segments `first .. first + count` of `module`, which must all be passive,
/// concatenated.
pub fn passive_segments(module: &[u8], first: u32, count: u32) -> Result<Vec<u8>> {
    let fail = MergeError::ContentReadback;
    let end = u64::from(first) + u64::from(count);
    let mut out = Vec::new();
    let mut seen = 0u32;
    for payload in Parser::new(0).parse_all(module) {
        let Payload::DataSection(reader) = payload.map_err(MergeError::malformed)? else {
            continue;
        };
        for (i, datum) in reader.into_iter().enumerate() {
            let datum = datum.map_err(MergeError::malformed)?;
            let i = i as u64;
            if i < u64::from(first) || i >= end {
                continue;
            }
            if !matches!(datum.kind, DataKind::Passive) {
                return Err(fail(format!(
                    "data segment {i} is not a passive content segment"
                )));
            }
            out.extend_from_slice(datum.data);
            seen += 1;
        }
    }
    if seen != count {
        return Err(fail(format!(
            "the module has {seen} of the {count} content segments from data index {first}"
        )));
    }
    Ok(out)
}
