//! Paste formats: owned by a helper, in progress.
