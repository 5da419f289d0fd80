//! Low-level binary helpers: section kinds in module order, LEB128, and writing a section from
//! pieces (raw bytes borrowed from the inputs plus freshly encoded items) to any writer, so that a
//! module can go straight to its output file.

use std::borrow::Cow;
use std::io::Write;
use wasm_encoder::Encode;

use crate::app::KnownSection;

/// Known (non-custom) sections, declared in the order a module must contain them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Type,
    Import,
    Function,
    Table,
    Memory,
    Tag,
    Global,
    Export,
    Start,
    Element,
    DataCount,
    Code,
    Data,
}

impl Kind {
    /// Every kind, in module order.
    pub(crate) const ALL: [Kind; 13] = [
        Kind::Type,
        Kind::Import,
        Kind::Function,
        Kind::Table,
        Kind::Memory,
        Kind::Tag,
        Kind::Global,
        Kind::Export,
        Kind::Start,
        Kind::Element,
        Kind::DataCount,
        Kind::Code,
        Kind::Data,
    ];

    /// The section id byte.
    pub(crate) fn id(self) -> u8 {
        match self {
            Kind::Type => 1,
            Kind::Import => 2,
            Kind::Function => 3,
            Kind::Table => 4,
            Kind::Memory => 5,
            Kind::Tag => 13,
            Kind::Global => 6,
            Kind::Export => 7,
            Kind::Start => 8,
            Kind::Element => 9,
            Kind::DataCount => 12,
            Kind::Code => 10,
            Kind::Data => 11,
        }
    }
}

/// Appends the unsigned LEB128 encoding of `v`.
pub(crate) fn leb(v: u32, out: &mut Vec<u8>) {
    v.encode(out);
}

/// Number of bytes of the unsigned LEB128 encoding of `v`.
pub(crate) fn leb_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Decodes an unsigned LEB128 `u32` at the start of `bytes`: value and encoded length.
pub(crate) fn read_leb(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().take(5).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(value).ok().map(|v| (v, i + 1));
        }
    }
    None
}

/// The items of a wasm-encoder section, without its size and count prefix.
pub(crate) fn items_of(section: &impl Encode) -> Vec<u8> {
    let mut bytes = Vec::new();
    section.encode(&mut bytes);
    let skip = read_leb(&bytes)
        .and_then(|(_, n)| read_leb(&bytes[n..]).map(|(_, m)| n + m))
        .unwrap_or(bytes.len());
    bytes.split_off(skip)
}

/// Fills a buffer with bytes produced on demand (e.g. read from files), or says why it cannot.
pub type Fill<'a> = &'a mut dyn FnMut(&mut [u8]) -> Result<(), FillError>;

/// Why a [`Fill`] could not produce its bytes: the caller's own error, handed back unchanged in
/// [`crate::MergeError::Content`] (the packer gets its `PackError` back, naming the file).
pub type FillError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A [`Fill`] that several pieces draw from in turn (each asks it for its own bytes).
pub(crate) type SharedFill<'a> = std::rc::Rc<std::cell::RefCell<Fill<'a>>>;

/// One piece of a section: bytes at hand, or a length to be filled while writing.
enum Part<'a> {
    Bytes(Cow<'a, [u8]>),
    Fill(usize, SharedFill<'a>),
}

/// A section under construction: an item count and its bytes as a list of pieces.
#[derive(Default)]
pub(crate) struct Pieces<'a> {
    /// Number of items.
    pub count: u32,
    parts: Vec<Part<'a>>,
    len: usize,
}

impl<'a> Pieces<'a> {
    /// Appends `count` items whose encoding is `bytes`.
    pub(crate) fn push(&mut self, count: u32, bytes: impl Into<Cow<'a, [u8]>>) {
        let bytes = bytes.into();
        self.count += count;
        self.len += bytes.len();
        if !bytes.is_empty() {
            self.parts.push(Part::Bytes(bytes));
        }
    }

    /// Appends bytes that are part of an item already counted.
    pub(crate) fn extend(&mut self, bytes: impl Into<Cow<'a, [u8]>>) {
        self.push(0, bytes);
    }

    /// Appends `len` bytes, part of an item already counted, that `fill` writes straight into
    /// the output when the section is written (so they are never held twice).
    pub(crate) fn extend_with(&mut self, len: usize, fill: SharedFill<'a>) {
        self.len += len;
        self.parts.push(Part::Fill(len, fill));
    }

    /// Total byte length of the items.
    pub(crate) fn byte_len(&self) -> usize {
        self.len
    }

    /// Writes the section (id, size, count, items) to `out`. Bytes to be filled go through a
    /// buffer of at most [`FILL_CHUNK`] bytes, so their size never counts in memory.
    pub(crate) fn write(&self, id: u8, out: &mut dyn Write) -> Result<(), crate::MergeError> {
        let size = leb_len(u64::from(self.count)) + self.len;
        let size = u32::try_from(size)
            .map_err(|_| crate::MergeError::Malformed(format!("section {id} exceeds 4 GiB")))?;
        let mut head = Vec::with_capacity(11);
        head.push(id);
        leb(size, &mut head);
        leb(self.count, &mut head);
        write_all(out, &head)?;
        let mut buf = Vec::new();
        for p in &self.parts {
            match p {
                Part::Bytes(b) => write_all(out, b)?,
                Part::Fill(len, fill) => {
                    let mut left = *len;
                    buf.resize(FILL_CHUNK.min(left).max(buf.len()), 0);
                    while left > 0 {
                        let n = left.min(buf.len());
                        (fill.borrow_mut())(&mut buf[..n]).map_err(crate::MergeError::Content)?;
                        write_all(out, &buf[..n])?;
                        left -= n;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Most bytes a [`Fill`] is asked for at once.
pub(crate) const FILL_CHUNK: usize = 1 << 20;

/// `out.write_all(bytes)`, its error as [`crate::MergeError::Write`].
pub(crate) fn write_all(out: &mut dyn Write, bytes: &[u8]) -> Result<(), crate::MergeError> {
    out.write_all(bytes).map_err(crate::MergeError::Write)
}

/// Writes a section whose content is given whole (no item count), e.g. a custom section.
pub(crate) fn write_raw_section(
    id: u8,
    content: &[u8],
    out: &mut dyn Write,
) -> Result<(), crate::MergeError> {
    let size = u32::try_from(content.len())
        .map_err(|_| crate::MergeError::Malformed(format!("section {id} exceeds 4 GiB")))?;
    let mut head = Vec::with_capacity(6);
    head.push(id);
    leb(size, &mut head);
    write_all(out, &head)?;
    write_all(out, content)
}

/// A layer's file contents while they are written: one fill shared by all their segments.
pub(crate) struct ContentParts<'f> {
    pub segment_lens: Vec<u32>,
    pub fill: SharedFill<'f>,
}

impl<'f> ContentParts<'f> {
    /// Appends the content segments to a data section under construction: passive (flag 1),
    /// then the length; the bytes come from the fill while the section is written.
    pub(crate) fn push_segments(self, p: &mut Pieces<'f>) {
        for len in &self.segment_lens {
            let mut head = vec![1];
            leb(*len, &mut head);
            p.push(1, head);
            p.extend_with(*len as usize, self.fill.clone());
        }
    }
}

/// Appends the items of code section `section` of module `bytes` (whose function bodies span
/// `bodies`) to `p`, with the bodies listed in `rewritten` (index, new body; in order) replaced:
/// runs of untouched bodies go in as one slice each; a replacement of the same size keeps the
/// original size prefix, so every later offset stays the same.
pub(crate) fn code_items<'p>(
    bytes: &'p [u8],
    section: &KnownSection,
    bodies: &[std::ops::Range<usize>],
    rewritten: &'p [(usize, Vec<u8>)],
    p: &mut Pieces<'p>,
) {
    let (mut pos, mut done) = (section.items.start, 0usize);
    for (i, body) in rewritten {
        let item_start = if *i == 0 {
            section.items.start
        } else {
            bodies[i - 1].end
        };
        p.push((i - done) as u32, &bytes[pos..item_start]);
        if body.len() == bodies[*i].len() {
            p.push(1, &bytes[item_start..bodies[*i].start]);
        } else {
            let mut size = Vec::with_capacity(5);
            leb(body.len() as u32, &mut size);
            p.push(1, size);
        }
        p.extend(&body[..]);
        pos = bodies[*i].end;
        done = i + 1;
    }
    p.push((bodies.len() - done) as u32, &bytes[pos..section.items.end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb_roundtrip_and_length() {
        for v in [0u32, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut b = Vec::new();
            leb(v, &mut b);
            assert_eq!(b.len(), leb_len(u64::from(v)), "{v}");
            assert_eq!(read_leb(&b), Some((v, b.len())));
        }
        // Padded encodings (as left by linkers) decode too.
        assert_eq!(read_leb(&[0x85, 0x80, 0x80, 0x80, 0x00]), Some((5, 5)));
        assert_eq!(read_leb(&[0x80, 0x80]), None);
    }

    #[test]
    fn pieces_write_prefixes_size_and_count() {
        let mut p = Pieces::default();
        p.push(2, vec![1u8, 2]);
        p.push(1, &[3u8][..]);
        let mut out = Vec::new();
        p.write(9, &mut out).map_err(|e| e.to_string()).ok();
        assert_eq!(out, vec![9, 4, 3, 1, 2, 3]);
    }
}
