//! A structure-aware mutator of real (packed) modules, for the untrusted-input tests of the
//! readers (`inspect`, `ls`, `cat`, `unpack`) and of `pack`.
//!
//! Mutations are proptest values, so a failing module shrinks to a short list of edits. Positions
//! are drawn inside *regions* found in the module — each `wasivfs` custom section's JSON, each data
//! segment that holds an image (its 64-byte header and its tables, where a reader follows offsets),
//! every data segment, the whole module — so most edits hit what a reader actually parses. The
//! JSON mutation rewrites one number or string of a `wasivfs` section and re-encodes the section.

use proptest::prelude::*;
use std::ops::Range;
use wasmparser::{Parser, Payload};

/// Where in a region a mutation applies: the region's index (modulo the regions found) and the
/// offset in it (modulo its length).
#[derive(Clone, Copy, Debug)]
pub struct Pos {
    /// Region index.
    pub region: usize,
    /// Offset in the region.
    pub offset: usize,
}

/// One edit.
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum Mutation {
    /// Flips bit `bit % 8` of a byte.
    Flip { at: Pos, bit: u8 },
    /// Overwrites a little-endian u32 (clipped at the end of the module).
    SetU32 { at: Pos, value: u32 },
    /// Cuts the module short.
    Truncate { at: Pos },
    /// Removes up to `len` bytes.
    Delete { at: Pos, len: u16 },
    /// Inserts bytes.
    Insert { at: Pos, bytes: Vec<u8> },
    /// Replaces one leaf of a `wasivfs` section's JSON (leaf index modulo the leaves).
    Json {
        section: usize,
        leaf: usize,
        value: JsonLeaf,
    },
}

/// A replacement JSON leaf.
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum JsonLeaf {
    Number(i128),
    /// The leaf's own value plus this.
    Nudge(i64),
    Text(String),
    Null,
}

const INTERESTING_U32: &[u32] = &[
    0,
    1,
    2,
    3,
    23,
    24,
    63,
    64,
    65,
    4095,
    4096,
    65535,
    65536,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fff0,
    0xffff_ffff,
];

fn pos() -> impl Strategy<Value = Pos> {
    (any::<usize>(), any::<usize>()).prop_map(|(region, offset)| Pos { region, offset })
}

fn json_leaf() -> impl Strategy<Value = JsonLeaf> {
    prop_oneof![
        prop::sample::select(
            &[
                0i128,
                1,
                2,
                64,
                65535,
                65536,
                1 << 31,
                (1 << 32) - 1,
                1 << 32,
                1 << 53,
                -1,
                1 << 70
            ][..]
        )
        .prop_map(JsonLeaf::Number),
        (-70_000i64..70_000).prop_map(JsonLeaf::Nudge),
        prop::sample::select(&["", "/", "//", "/..", "/a/../..", "x", "\u{0}", "é"][..])
            .prop_map(|s| JsonLeaf::Text(s.to_string())),
        Just(JsonLeaf::Null),
    ]
}

/// One random edit.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (pos(), any::<u8>()).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        4 => (pos(), prop_oneof![2 => prop::sample::select(INTERESTING_U32), 1 => any::<u32>()])
            .prop_map(|(at, value)| Mutation::SetU32 { at, value }),
        1 => pos().prop_map(|at| Mutation::Truncate { at }),
        1 => (pos(), 1u16..300).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => (pos(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        3 => (any::<usize>(), any::<usize>(), json_leaf())
            .prop_map(|(section, leaf, value)| Mutation::Json { section, leaf, value }),
    ]
}

/// One to four edits.
pub fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..5)
}

/// The regions of `module` that mutations aim at (see the module docs). Never empty for a
/// non-empty module.
pub fn regions(module: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let base = module.as_ptr() as usize;
    for payload in Parser::new(0).parse_all(module) {
        let Ok(payload) = payload else { break };
        match payload {
            Payload::CustomSection(c) if c.name() == "wasivfs" => {
                let at = c.data_offset() as usize;
                out.push(at..at + c.data().len())
            }
            Payload::DataSection(reader) => {
                for data in reader.into_iter().flatten() {
                    let start = data.data.as_ptr() as usize - base;
                    let seg = start..start + data.data.len();
                    if let Some(at) = find(data.data, b"WVFSIMG\0") {
                        let img = start + at;
                        out.push(img..(img + 64).min(seg.end));
                        out.push(img..(img + 8192).min(seg.end));
                    }
                    out.push(seg);
                }
            }
            _ => {}
        }
    }
    if !module.is_empty() {
        out.push(0..module.len());
    }
    out.retain(|r| !r.is_empty());
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn resolve(regions: &[Range<usize>], at: Pos, len: usize) -> usize {
    if regions.is_empty() {
        return 0;
    }
    let r = &regions[at.region % regions.len()];
    (r.start + at.offset % r.len()).min(len)
}

/// `module` with `edits` applied in order (regions are recomputed after each edit).
pub fn apply(module: &[u8], edits: &[Mutation]) -> Vec<u8> {
    let mut m = module.to_vec();
    for e in edits {
        let regions = regions(&m);
        match e {
            Mutation::Flip { at, bit } => {
                let i = resolve(&regions, *at, m.len());
                if let Some(b) = m.get_mut(i) {
                    *b ^= 1 << (bit % 8);
                }
            }
            Mutation::SetU32 { at, value } => {
                let i = resolve(&regions, *at, m.len());
                for (k, b) in value.to_le_bytes().iter().enumerate() {
                    if let Some(x) = m.get_mut(i + k) {
                        *x = *b;
                    }
                }
            }
            Mutation::Truncate { at } => {
                let i = resolve(&regions, *at, m.len());
                m.truncate(i);
            }
            Mutation::Delete { at, len } => {
                let i = resolve(&regions, *at, m.len());
                let end = (i + *len as usize).min(m.len());
                m.drain(i..end);
            }
            Mutation::Insert { at, bytes } => {
                let i = resolve(&regions, *at, m.len());
                m.splice(i..i, bytes.iter().copied());
            }
            Mutation::Json {
                section,
                leaf,
                value,
            } => {
                if let Some(new) = mutate_json(&m, *section, *leaf, value) {
                    m = new;
                }
            }
        }
    }
    m
}

/// Rewrites one leaf of the `section`-th `wasivfs` section (modulo their number).
fn mutate_json(module: &[u8], section: usize, leaf: usize, value: &JsonLeaf) -> Option<Vec<u8>> {
    let sections = wasivfs_sections(module);
    if sections.is_empty() {
        return None;
    }
    let section = section % sections.len();
    let json: serde_json::Value = serde_json::from_slice(&sections[section].1).ok()?;
    let mut leaves = Vec::new();
    collect_leaves(&json, String::new(), &mut leaves);
    if leaves.is_empty() {
        return None;
    }
    let pointer = &leaves[leaf % leaves.len()];
    let old = json.pointer(pointer)?;
    let new = match value {
        JsonLeaf::Number(n) => serde_json::from_str(&n.to_string()).ok()?,
        JsonLeaf::Nudge(d) => match old.as_i64() {
            Some(v) => serde_json::Value::from(v.saturating_add(*d)),
            None => serde_json::Value::from(*d),
        },
        JsonLeaf::Text(s) => serde_json::Value::from(s.as_str()),
        JsonLeaf::Null => serde_json::Value::Null,
    };
    set_json(module, section, pointer, new)
}

/// Every `wasivfs` custom section: `(offset of its payload, payload)`.
fn wasivfs_sections(module: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut found = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        if let Ok(Payload::CustomSection(c)) = payload {
            if c.name() == "wasivfs" {
                found.push((c.data_offset() as usize, c.data().to_vec()));
            }
        }
    }
    found
}

/// `module` with the value at JSON `pointer` (e.g. `/image_len`) of its `section`-th `wasivfs`
/// section replaced by `value`, the section re-encoded; `None` if there is no such value.
pub fn set_json(
    module: &[u8],
    section: usize,
    pointer: &str,
    value: serde_json::Value,
) -> Option<Vec<u8>> {
    let sections = wasivfs_sections(module);
    let (data_at, data) = sections.get(section)?;
    let mut json: serde_json::Value = serde_json::from_slice(data).ok()?;
    *json.pointer_mut(pointer)? = value;
    let payload = serde_json::to_vec(&json).ok()?;
    // Rebuild the whole section: id 0, size, name, payload.
    let mut body = Vec::new();
    leb(&mut body, "wasivfs".len() as u64);
    body.extend_from_slice(b"wasivfs");
    body.extend_from_slice(&payload);
    let mut section_bytes = vec![0u8];
    leb(&mut section_bytes, body.len() as u64);
    section_bytes.extend_from_slice(&body);
    let start = section_start(module, *data_at)?;
    let end = data_at + data.len();
    let mut out = module[..start].to_vec();
    out.extend_from_slice(&section_bytes);
    out.extend_from_slice(module.get(end..)?);
    Some(out)
}

/// The offset of the id byte of the section that contains offset `inner`.
fn section_start(module: &[u8], inner: usize) -> Option<usize> {
    let mut at = 8;
    while at < module.len() {
        let id_at = at;
        let (size, n) = read_leb(module.get(at + 1..)?)?;
        let end = at + 1 + n + size as usize;
        if inner >= id_at && inner < end {
            return Some(id_at);
        }
        at = end;
    }
    None
}

fn read_leb(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn collect_leaves(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map {
                collect_leaves(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        serde_json::Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                collect_leaves(x, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_mutation_keeps_a_parsable_module() {
        let wat = r#"(module (@custom "wasivfs" "{\"a\":1,\"b\":[\"x\",2]}") (memory 1))"#;
        let m = wat::parse_str(wat).unwrap();
        let out = apply(
            &m,
            &[Mutation::Json {
                section: 0,
                leaf: 2,
                value: JsonLeaf::Number(7),
            }],
        );
        wasmparser::validate(&out).unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains(r#"{"a":1,"b":["x",7]}"#), "{text}");
    }
}
