//! The span sink: how one decoder serves both the plain decode and the annotated analysis.
//!
//! The decoder reports every field it reads to a [`Sink`]. [`NoSpans`] ignores them and compiles
//! away, so the typed decode pays nothing; the analyzer's sink builds the field tree. Labels and
//! values are closures so that no string is built unless a sink wants it.

/// Receives the structure of a message as the decoder reads it.
pub trait Sink {
    /// Whether this sink records anything (lets callers skip work).
    const ACTIVE: bool;
    /// Starts a group of fields (a section, a record, a name) at `offset`.
    fn open(&mut self, offset: usize, label: impl FnOnce() -> String);
    /// One field of `len` bytes at `offset`.
    fn leaf(
        &mut self,
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
    fn open(&mut self, _: usize, _: impl FnOnce() -> String) {}
    #[inline(always)]
    fn leaf(&mut self, _: usize, _: usize, _: &'static str, _: impl FnOnce() -> String) {}
    #[inline(always)]
    fn close(&mut self, _: usize, _: impl FnOnce() -> String) {}
}

/// One node of the annotated field tree: a byte range, what it is, and what it means.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Field {
    pub offset: usize,
    pub len: usize,
    pub label: String,
    pub value: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
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
    fn open(&mut self, offset: usize, label: impl FnOnce() -> String) {
        self.stack.push(Field {
            offset,
            len: 0,
            label: label(),
            value: String::new(),
            children: vec![],
        });
    }
    fn leaf(
        &mut self,
        offset: usize,
        len: usize,
        label: &'static str,
        value: impl FnOnce() -> String,
    ) {
        self.push(Field {
            offset,
            len,
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
