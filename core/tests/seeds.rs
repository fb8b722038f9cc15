//! Golden tests on the incident packets: the analysis must make incident 000 obvious.
#![allow(clippy::unwrap_used)]
use dnspect_core::wire::fit::{fit, recompress};
use dnspect_core::wire::inspect::analyze::analyze;
use dnspect_core::wire::inspect::dig::analysis_text;
use dnspect_core::wire::{Message, MessageView, RType};

fn hex(s: &str) -> Vec<u8> {
    dnspect_core::wire::text::unhex(s.trim()).unwrap()
}

fn uncompressed() -> Vec<u8> {
    hex(include_str!("data/seed000-uncompressed.hex"))
}
fn compressed() -> Vec<u8> {
    hex(include_str!("data/seed000-compressed.hex"))
}

#[test]
fn seed_sizes_are_the_incident_sizes() {
    assert_eq!(uncompressed().len(), 758);
    assert_eq!(compressed().len(), 358);
}

#[test]
fn both_seeds_decode_to_the_same_message() {
    let a = Message::from_wire(&uncompressed()).unwrap();
    let b = Message::from_wire(&compressed()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.answers.len(), 20);
    assert!(a
        .answers
        .iter()
        .all(|r| r.rtype == RType::A && r.name.to_string() == "api-push.vivo.com.cn."));
    assert_eq!(a.header.id, 30973);
}

#[test]
fn recompress_turns_758_into_358() {
    let r = recompress(&uncompressed()).unwrap();
    assert_eq!(r.len(), 358);
    assert_eq!(r, compressed());
    // Already optimal: unchanged.
    assert_eq!(recompress(&compressed()).unwrap(), compressed());
    // Fit to a non-EDNS client: the whole answer, no TC.
    let f = fit(&uncompressed(), 512).unwrap();
    assert_eq!(f.bytes.len(), 358);
    assert!(f.truncation.is_none());
    assert!(!MessageView::new(&f.bytes).unwrap().truncated());
}

#[test]
fn truncation_drops_whole_rrsets_and_sets_tc() {
    let msg = Message::from_wire(&compressed()).unwrap();
    let f = fit(&uncompressed(), 100).unwrap();
    let t = f.truncation.unwrap();
    assert!(t.tc);
    assert_eq!(t.dropped[0], 20, "the 20 A records are one RRset");
    let m = Message::from_wire(&f.bytes).unwrap();
    assert!(m.header.tc);
    assert!(m.answers.is_empty());
    assert_eq!(m.questions, msg.questions);
}

#[test]
fn analysis_shows_400_lost_bytes_and_the_512_crossing() {
    let a = analyze(&uncompressed());
    assert!(a.error.is_none());
    assert_eq!(a.compression.missed.len(), 20);
    assert_eq!(a.compression.lost, 400);
    assert!(a
        .compression
        .missed
        .iter()
        .all(|m| m.lost == 20 && m.could_point_to == 12));
    assert_eq!(a.sizes.compressed, Some(358));
    assert_eq!(a.sizes.uncompressed, Some(758));
    let c512 = a.sizes.crossings.iter().find(|c| c.limit == 512).unwrap();
    assert!(!c512.fits);
    assert!(c512.fits_compressed);
    let rec = c512.record.as_ref().unwrap();
    assert!(rec.offset < 512 && 512 <= rec.offset + rec.len);
    let text = analysis_text(&a);
    assert!(text.contains("400 bytes lost"), "{text}");
    assert!(text.contains("MSG SIZE  rcvd: 758"));

    let b = analyze(&compressed());
    assert_eq!(b.compression.pointers.len(), 20);
    assert_eq!(b.compression.saved, 400);
    assert_eq!(b.compression.lost, 0);
    assert!(
        b.sizes
            .crossings
            .iter()
            .find(|c| c.limit == 512)
            .unwrap()
            .fits
    );
}

#[test]
fn pointer_field_is_explained() {
    let a = analyze(&compressed());
    let json = serde_json::to_string(&a.fields).unwrap();
    assert!(
        json.contains(r#"c0 0c -> offset 12 (\"api-push.vivo.com.cn.\"), saves 20 bytes"#),
        "{json}"
    );
}

#[test]
fn fields_carry_their_kind_and_section() {
    use dnspect_core::wire::spans::{Field, FieldKind};
    use dnspect_core::wire::Section;
    let a = analyze(&compressed());
    let kinds: Vec<_> = a.fields.iter().map(|f| (f.kind, f.section)).collect();
    assert_eq!(
        kinds,
        [
            (FieldKind::Header, None),
            (FieldKind::Section, Some(Section::Question)),
            (FieldKind::Section, Some(Section::Answer)),
        ]
    );
    fn walk(f: &Field, section: Option<Section>, out: &mut Vec<FieldKind>) {
        assert_eq!(f.section, section, "{} at {}", f.label, f.offset);
        out.push(f.kind);
        for c in &f.children {
            walk(c, section, out);
        }
    }
    let mut seen = vec![];
    for f in &a.fields {
        walk(f, f.section, &mut seen);
    }
    for k in [
        FieldKind::Flags,
        FieldKind::Question,
        FieldKind::Record,
        FieldKind::Name,
        FieldKind::Rdata,
        FieldKind::Label,
        FieldKind::Pointer,
        FieldKind::Root,
        FieldKind::Value,
    ] {
        assert!(seen.contains(&k), "{k:?}");
    }
    let answers = &a.fields[2].children;
    assert_eq!(answers.len(), 20);
    assert!(answers.iter().all(|r| r.kind == FieldKind::Record));
}
