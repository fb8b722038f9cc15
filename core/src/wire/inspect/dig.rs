//! The analysis as text: dig's layout for the message (header, flags, OPT pseudosection,
//! sections of presentation-format records, MSG SIZE), then what dig does not say: compression,
//! sizes against the usual limits, warnings and the decode error with its offset.

use core::fmt::Write;

use super::analyze::Analysis;
use crate::wire::message::Message;
use crate::wire::types::{ede_purpose, Opcode, Rcode};

/// dig's presentation of a message, without the analyzer's extras.
pub fn message_text(m: &Message, size: Option<usize>) -> String {
    let mut o = String::new();
    let h = &m.header;
    let rcode = m.rcode();
    let _ = writeln!(
        o,
        ";; ->>HEADER<<- opcode: {}, status: {}, id: {}",
        h.opcode, rcode, h.id
    );
    // RFC 2136 2: an UPDATE's sections are the zone, prerequisites, updates and additional data,
    // and dig names them so.
    let titles = if h.opcode == Opcode::UPDATE {
        ["ZONE", "PREREQ", "UPDATE", "ADDITIONAL"]
    } else {
        ["QUERY", "ANSWER", "AUTHORITY", "ADDITIONAL"]
    };
    let _ = writeln!(
        o,
        ";; flags: {}; {}: {}, {}: {}, {}: {}, {}: {}",
        h.flag_names().join(" "),
        titles[0],
        m.questions.len(),
        titles[1],
        m.answers.len(),
        titles[2],
        m.authority.len(),
        titles[3],
        m.additional.len() + usize::from(m.edns.is_some())
    );
    if let Some(e) = &m.edns {
        let _ = writeln!(o, "\n;; OPT PSEUDOSECTION:");
        let mut flags = String::new();
        if e.dnssec_ok {
            flags.push_str(" do");
        }
        if e.z != 0 {
            let _ = write!(flags, " MBZ: 0x{:04x},", e.z);
        }
        let _ = writeln!(
            o,
            "; EDNS: version: {}, flags:{}; udp: {}",
            e.version, flags, e.udp_size
        );
        for opt in &e.options {
            let _ = writeln!(o, "; {opt}");
        }
    }
    let section_titles = if h.opcode == Opcode::UPDATE {
        ["ZONE", "PREREQUISITE", "UPDATE", "ADDITIONAL"]
    } else {
        ["QUESTION", "ANSWER", "AUTHORITY", "ADDITIONAL"]
    };
    if !m.questions.is_empty() {
        let _ = writeln!(o, "\n;; {} SECTION:", section_titles[0]);
        for q in &m.questions {
            let _ = writeln!(o, ";{}\t\t{}\t{}", q.name, q.class, q.qtype);
        }
    }
    for (title, records) in [
        (section_titles[1], &m.answers),
        (section_titles[2], &m.authority),
        (section_titles[3], &m.additional),
    ] {
        if records.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n;; {title} SECTION:");
        for r in records {
            let _ = writeln!(o, "{}", r.to_text());
        }
    }
    if let Some(size) = size {
        let _ = writeln!(o, "\n;; MSG SIZE  rcvd: {size}");
    }
    o
}

/// The full analysis as text.
pub fn analysis_text(a: &Analysis) -> String {
    let mut o = String::new();
    if let Some(src) = &a.source {
        let _ = writeln!(
            o,
            ";; INPUT: {}, {} bytes decoded",
            src.format.as_str(),
            src.raw_len
        );
        for l in &src.layers {
            let _ = writeln!(
                o,
                ";;   stripped {} bytes at offset {}: {}",
                l.len, l.offset, l.summary
            );
        }
        o.push('\n');
    }
    if a.len < crate::wire::view::HEADER_LEN {
        // Nothing was read: printing the default header (id 0, NOERROR) would show a message
        // that is not there. The ERROR line below says what is missing.
        let _ = writeln!(
            o,
            ";; no DNS header: {} byte(s), a header is {}",
            a.len,
            crate::wire::view::HEADER_LEN
        );
    } else {
        o.push_str(&message_text(&a.message, Some(a.len)));
    }
    let c = &a.compression;
    let _ = writeln!(
        o,
        "\n;; COMPRESSION: {} pointer(s) saved {} bytes",
        c.pointers.len(),
        c.saved
    );
    for p in &c.pointers {
        let _ = writeln!(
            o,
            ";;   pointer at 0x{:04x} -> offset {} (\"{}\"), saves {} bytes",
            p.offset, p.target, p.suffix, p.saves
        );
    }
    if !c.missed.is_empty() {
        let _ = writeln!(
            o,
            ";; MISSED COMPRESSION: {} name(s) written in full, {} bytes lost",
            c.missed.len(),
            c.lost
        );
        for m in &c.missed {
            let _ = writeln!(
                o,
                ";;   \"{}\" at 0x{:04x}: {} bytes, {} with a pointer to offset {} ({} lost)",
                m.name, m.offset, m.written, m.optimal, m.could_point_to, m.lost
            );
        }
    }
    let s = &a.sizes;
    let _ = write!(o, "\n;; SIZE: {} bytes", s.size);
    if let Some(u) = s.uncompressed {
        let _ = write!(o, "; uncompressed {u}");
    }
    if let Some(c) = s.compressed {
        let _ = write!(o, "; optimally compressed {c}");
    }
    o.push('\n');
    for sec in &s.sections {
        let _ = writeln!(
            o,
            ";;   {:<10} {:>5} bytes at {:>5}, {} record(s)",
            sec.section.title(),
            sec.len,
            sec.offset,
            sec.records
        );
    }
    for c in &s.crossings {
        let verdict = if c.fits {
            "fits".to_string()
        } else {
            let at = c.record.as_ref().map_or(String::new(), |r| {
                format!(
                    " inside {} #{} ({}, bytes {}..{})",
                    r.section.title(),
                    r.index + 1,
                    r.rtype,
                    r.offset,
                    r.offset + r.len
                )
            });
            let comp = if c.fits_compressed {
                "; fits once re-compressed"
            } else {
                ""
            };
            format!("CROSSED{at}{comp}")
        };
        let _ = writeln!(o, ";;   {:>5}: {verdict}  [{}]", c.limit, c.label);
    }
    if !a.warnings.is_empty() {
        let _ = writeln!(o, "\n;; WARNINGS AND NOTES:");
        for w in &a.warnings {
            let kind = match w.severity {
                super::analyze::Severity::Error => "error",
                super::analyze::Severity::Warning => "warning",
                super::analyze::Severity::Note => "note",
            };
            match w.offset {
                Some(off) => {
                    let _ = writeln!(o, ";;   {kind} at offset {off}: {}", w.message);
                }
                None => {
                    let _ = writeln!(o, ";;   {kind}: {}", w.message);
                }
            }
        }
    }
    if let Some(e) = &a.error {
        let _ = writeln!(o, "\n;; ERROR: {e}");
        let _ = writeln!(o, ";; (everything above that offset was decoded)");
    }
    if let Some((code, text)) = a.message.edns.as_ref().and_then(|e| e.extended_error()) {
        if a.message.rcode() != Rcode::NOERROR {
            let _ = writeln!(
                o,
                ";; EXTENDED ERROR {code} ({}): {text}",
                ede_purpose(code).unwrap_or("unknown")
            );
        }
    }
    o
}
