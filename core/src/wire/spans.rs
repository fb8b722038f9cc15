//! The span sink: how one decoder serves both the plain decode and the annotated analysis.
//!
//! The decoder reports every field it reads to a [`Sink`]. [`NoSpans`] ignores them and compiles
//! away, so the typed decode pays nothing; the analyzer's sink builds the field tree. Labels and
//! values are closures so that no string is built unless a sink wants it. Each field also says
//! what it is ([`FieldKind`]) and which section it sits in, so nothing reading the tree has to
//! parse its display labels.

use super::types::Section;

/// What a field of the tree is. Groups: `header` (the fixed header), `flags` (its flag bits),
/// `section` (a whole section), `question`, `record` (OPT included), `name`, `rdata`, `option`
/// (one EDNS option). Leaves: the parts of a name (`label`, `pointer`, `root`) and every other
/// value (`value`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Header,
    Flags,
    Section,
    Question,
    Record,
    Name,
    Rdata,
    Option,
    Label,
    Pointer,
    Root,
    Value,
}

/// Receives the structure of a message as the decoder reads it.
pub trait Sink {
    /// Whether this sink records anything (lets callers skip work).
    const ACTIVE: bool;
    /// Starts a group of fields (a section, a record, a name) at `offset`. `section`: the section
    /// the group starts (`None`: it is in its parent's).
    fn open(
        &mut self,
        offset: usize,
        kind: FieldKind,
        section: Option<Section>,
        label: impl FnOnce() -> String,
    );
    /// One field of `len` bytes at `offset`.
    #[inline(always)]
    fn leaf(
        &mut self,
        offset: usize,
        len: usize,
        label: &'static str,
        value: impl FnOnce() -> String,
    ) {
        self.leaf_of(FieldKind::Value, offset, len, label, value);
    }
    /// One field of `len` bytes at `offset` that is a `kind` (the parts of a name).
    fn leaf_of(
        &mut self,
        kind: FieldKind,
        offset: usize,
        len: usize,
        label: &'static str,
        value: impl FnOnce() -> String,
    );
    /// Ends the innermost group at `end`, with a one-line summary of it.
    fn close(&mut self, end: usize, value: impl FnOnce() -> String);
    /// A compression pointer at `offset` to `target` (in place, not one reached through another).
    fn pointer(&mut self, _offset: usize, _target: usize) {}
}

/// The sink that records nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSpans;

impl Sink for NoSpans {
    const ACTIVE: bool = false;
    #[inline(always)]
    fn open(&mut self, _: usize, _: FieldKind, _: Option<Section>, _: impl FnOnce() -> String) {}
    #[inline(always)]
    fn leaf_of(
        &mut self,
        _: FieldKind,
        _: usize,
        _: usize,
        _: &'static str,
        _: impl FnOnce() -> String,
    ) {
    }
    #[inline(always)]
    fn close(&mut self, _: usize, _: impl FnOnce() -> String) {}
}

/// One node of the annotated field tree: a byte range, what it is, and what it means.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Field {
    pub offset: usize,
    pub len: usize,
    pub kind: FieldKind,
    /// The section the field sits in (none for the header and trailing bytes).
    pub section: Option<Section>,
    pub label: String,
    pub value: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<Field>>", optional))]
    pub children: Vec<Field>,
}

/// The sink that builds a tree of [`Field`]s.
#[derive(Debug, Default)]
pub struct FieldTree {
    stack: Vec<Field>,
    pub roots: Vec<Field>,
    pub pointers: Vec<(usize, usize)>,
}

impl FieldTree {
    fn push(&mut self, f: Field) {
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(f),
            None => self.roots.push(f),
        }
    }

    /// Closes every group still open (after an error), ending them at `end`.
    pub fn close_all(&mut self, end: usize) {
        while !self.stack.is_empty() {
            self.close(end, String::new);
        }
    }
}

impl Sink for FieldTree {
    const ACTIVE: bool = true;
    fn open(
        &mut self,
        offset: usize,
        kind: FieldKind,
        section: Option<Section>,
        label: impl FnOnce() -> String,
    ) {
        let section = section.or_else(|| self.stack.last().and_then(|p| p.section));
        self.stack.push(Field {
            offset,
            len: 0,
            kind,
            section,
            label: label(),
            value: String::new(),
            children: vec![],
        });
    }
    fn leaf_of(
        &mut self,
        kind: FieldKind,
        offset: usize,
        len: usize,
        label: &'static str,
        value: impl FnOnce() -> String,
    ) {
        self.push(Field {
            offset,
            len,
            kind,
            section: self.stack.last().and_then(|p| p.section),
            label: label.to_string(),
            value: value(),
            children: vec![],
        });
    }
    fn close(&mut self, end: usize, value: impl FnOnce() -> String) {
        if let Some(mut f) = self.stack.pop() {
            f.len = end.saturating_sub(f.offset);
            f.value = value();
            self.push(f);
        }
    }
    fn pointer(&mut self, offset: usize, target: usize) {
        self.pointers.push((offset, target));
    }
}
