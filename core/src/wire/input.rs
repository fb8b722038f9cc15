//! Temporary stand-in until the paste parser lands.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    pub format: String,
    pub layers: Vec<L>,
    pub raw_len: usize,
}
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct L {
    pub offset: usize,
    pub len: usize,
    pub summary: String,
}
