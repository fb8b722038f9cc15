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
#[derive(Debug)]
pub struct PasteError(pub String);
impl core::fmt::Display for PasteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}
pub fn analyze_paste(text: &str) -> Result<super::analyze::Analysis, PasteError> {
    let b = super::text::unhex(text).map_err(PasteError)?;
    Ok(super::analyze::analyze(&b))
}
pub fn analyze_binary(bytes: &[u8]) -> super::analyze::Analysis {
    super::analyze::analyze(bytes)
}
