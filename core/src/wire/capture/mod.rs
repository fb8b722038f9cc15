//! Input as people bring it: the paste formats (hex, tcpdump, xxd, od, Wireshark, base64, DoH
//! URLs) and the link, IP and transport layers in front of the DNS bytes, stripped and named;
//! `input` ties a paste to the analysis. The forwarder never uses it.

pub mod input;
pub mod paste;
