//! Capture files as a stream of frames: pcap (both byte orders, micro- and nanosecond) and
//! pcapng (sections of either byte order, several interfaces, each with its link type and time
//! resolution). The record framing is parsed by the `pcap-parser` crate; this file only keeps
//! the bytes of one incomplete record between two chunks, so memory stays bounded by the largest
//! record (at most [`MAX_RECORD`]) plus the chunk the caller hands in.

use pcap_parser::pcapng::{
    parse_enhancedpacketblock_be, parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_sectionheaderblock, parse_simplepacketblock_be,
    parse_simplepacketblock_le, Block,
};
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified};

/// The largest record (pcap frame or pcapng block) accepted: anything longer is a corrupt
/// length field, not a packet (libpcap's own limit for a snapshot is 256 KiB).
pub const MAX_RECORD: usize = 16 << 20;

/// The two capture formats.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "CaptureFormat"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pcap,
    Pcapng,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
        }
    }
}

/// What the first four bytes of a file say it is, if it is a capture.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    let magic: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0xa1b2_cd34 | 0x34cd_b2a1 => {
            Some(Format::Pcap)
        }
        0x0a0d_0d0a => Some(Format::Pcapng),
        _ => None,
    }
}

/// A capture that cannot be read further: where and why. Everything before `offset` was read.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CaptureError {
    /// Byte offset in the file of the record (or header) that could not be read.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub offset: u64,
    pub message: String,
}

impl core::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for CaptureError {}

/// One captured frame, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// 1-based, as Wireshark numbers frames.
    pub number: u64,
    /// Byte offset of the frame's record in the file.
    pub offset: u64,
    /// Nanoseconds since the Unix epoch.
    pub time_ns: i64,
    /// The LINKTYPE_ value of the interface.
    pub linktype: i32,
    pub data: &'a [u8],
    /// The frame's length on the wire (larger than `data` when the snapshot cut it).
    pub orig_len: u32,
}

#[derive(Clone, Debug)]
struct Interface {
    linktype: i32,
    /// Units per second of this interface's timestamps.
    resolution: u64,
    offset_s: i64,
}

#[derive(Clone, Debug)]
enum State {
    /// Nothing read yet.
    Start,
    Pcap {
        big_endian: bool,
        nanos: bool,
        modified: bool,
        linktype: i32,
    },
    Pcapng {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

/// The incremental reader: `feed` chunks of the file in order, get frames through a callback;
/// `finish` at the end says whether the file ended inside a record.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// Bytes of `buf` already parsed.
    pos: usize,
    /// File offset of `buf[0]`.
    base: u64,
    state: State,
    frames: u64,
    failed: Option<CaptureError>,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameReader {
    pub fn new() -> Self {
        FrameReader {
            buf: Vec::new(),
            pos: 0,
            base: 0,
            state: State::Start,
            frames: 0,
            failed: None,
        }
    }

    /// The format, once the header is read.
    pub fn format(&self) -> Option<Format> {
        match self.state {
            State::Start => None,
            State::Pcap { .. } => Some(Format::Pcap),
            State::Pcapng { .. } => Some(Format::Pcapng),
        }
    }

    /// Frames read so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// File bytes consumed so far (whole records only).
    pub fn consumed(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads the records completed by `chunk`. After an error, every later call returns it again.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        on_frame: &mut dyn FnMut(Frame<'_>),
    ) -> Result<(), CaptureError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        // Keep only the unparsed tail, then append: the buffer holds at most one partial record.
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
        let result = self.parse(on_frame);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// The end of the file: an error when it ends inside the header or a record.
    pub fn finish(&mut self) -> Result<(), CaptureError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let left = self.buf.len() - self.pos;
        let err = match self.state {
            State::Start if self.base == 0 && self.buf.is_empty() => {
                Some("the file is empty".to_string())
            }
            State::Start => Some(format!(
                "the file ends inside the capture header ({left} bytes)"
            )),
            _ if left > 0 => Some(format!(
                "the capture is truncated: it ends {left} bytes into a record{}",
                self.expected_len()
                    .map_or(String::new(), |n| format!(" of {n} bytes"))
            )),
            _ => None,
        };
        match err {
            Some(message) => {
                let e = CaptureError {
                    offset: self.consumed(),
                    message,
                };
                self.failed = Some(e.clone());
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// The length of the record that starts at `pos`, when its header is there.
    fn expected_len(&self) -> Option<usize> {
        let rest = &self.buf[self.pos..];
        match &self.state {
            State::Pcap {
                big_endian,
                modified,
                ..
            } => {
                let caplen = u32_at(rest, 8, *big_endian)? as usize;
                Some(caplen + if *modified { 24 } else { 16 })
            }
            State::Pcapng { big_endian, .. } => {
                let big = if u32_at(rest, 0, false) == Some(0x0a0d_0d0a) {
                    u32_at(rest, 8, false)? != 0x1a2b_3c4d
                } else {
                    *big_endian
                };
                Some(u32_at(rest, 4, big)? as usize)
            }
            State::Start => None,
        }
    }

    fn error(&self, at: usize, message: String) -> CaptureError {
        CaptureError {
            offset: self.base + at as u64,
            message,
        }
    }

    fn parse(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), CaptureError> {
        loop {
            let rest = &self.buf[self.pos..];
            match self.state {
                State::Start => {
                    if rest.len() < 4 {
                        return Ok(());
                    }
                    match sniff(rest) {
                        Some(Format::Pcap) => {
                            if rest.len() < 24 {
                                return Ok(());
                            }
                            let (_, h) = pcap_parser::parse_pcap_header(rest).map_err(|_| {
                                self.error(self.pos, "bad pcap header".to_string())
                            })?;
                            self.state = State::Pcap {
                                big_endian: h.is_bigendian(),
                                nanos: h.is_nanosecond_precision(),
                                modified: h.is_modified_format(),
                                linktype: h.network.0,
                            };
                            self.pos += 24;
                        }
                        Some(Format::Pcapng) => {
                            self.state = State::Pcapng {
                                big_endian: false,
                                interfaces: Vec::new(),
                            };
                        }
                        None => {
                            return Err(self.error(
                                self.pos,
                                format!(
                                    "not a pcap or pcapng file: it starts with {:02x} {:02x} {:02x} {:02x}",
                                    rest[0], rest[1], rest[2], rest[3]
                                ),
                            ))
                        }
                    }
                }
                State::Pcap {
                    big_endian,
                    nanos,
                    modified,
                    linktype,
                } => {
                    let head = if modified { 24 } else { 16 };
                    if rest.len() < head {
                        return Ok(());
                    }
                    let caplen = u32_at(rest, 8, big_endian).unwrap_or(0) as usize;
                    if caplen > MAX_RECORD {
                        return Err(self.error(
                            self.pos,
                            format!("a pcap record of {caplen} bytes (corrupt length: the limit is {MAX_RECORD})"),
                        ));
                    }
                    if rest.len() < head + caplen {
                        return Ok(());
                    }
                    let parsed = if modified {
                        parse_pcap_frame_modified(rest)
                    } else if big_endian {
                        parse_pcap_frame_be(rest)
                    } else {
                        parse_pcap_frame(rest)
                    };
                    let (_, b) = parsed.map_err(|_| {
                        self.error(self.pos, "a pcap record that does not parse".to_string())
                    })?;
                    let sub = if nanos { 1 } else { 1000 };
                    let time_ns = i64::from(b.ts_sec) * 1_000_000_000 + i64::from(b.ts_usec) * sub;
                    self.frames += 1;
                    on_frame(Frame {
                        number: self.frames,
                        offset: self.base + self.pos as u64,
                        time_ns,
                        linktype,
                        data: b.data,
                        orig_len: b.origlen,
                    });
                    self.pos += head + caplen;
                }
                State::Pcapng { .. } => {
                    if !self.pcapng_block(on_frame)? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Reads one pcapng block; false when it is not complete yet.
    fn pcapng_block(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<bool, CaptureError> {
        let at = self.pos;
        let rest = &self.buf[at..];
        let State::Pcapng { big_endian, .. } = self.state else {
            return Ok(false);
        };
        if rest.len() < 12 {
            return Ok(false);
        }
        let is_shb = u32_at(rest, 0, false) == Some(0x0a0d_0d0a);
        let big = if is_shb {
            match u32_at(rest, 8, false) {
                Some(0x1a2b_3c4d) => false,
                Some(0x4d3c_2b1a) => true,
                other => {
                    return Err(self.error(
                        at,
                        format!(
                            "pcapng section header with a bad byte-order magic {:08x}",
                            other.unwrap_or(0)
                        ),
                    ))
                }
            }
        } else {
            big_endian
        };
        let len = u32_at(rest, 4, big).unwrap_or(0) as usize;
        if len < 12 || len % 4 != 0 || len > MAX_RECORD {
            return Err(self.error(
                at,
                format!(
                    "a pcapng block with a bad length {len} (a multiple of 4, 12 to {MAX_RECORD})"
                ),
            ));
        }
        if rest.len() < len {
            return Ok(false);
        }
        let block_bytes = &rest[..len];
        // Only the four blocks that carry packets or say how to read them are parsed (one
        // parser per block type and byte order ends up in the wasm, so the others are skipped
        // by their length rather than parsed and dropped).
        let parsed = match u32_at(rest, 0, big).unwrap_or(0) {
            0x0a0d_0d0a => {
                parse_sectionheaderblock(block_bytes).map(|(_, b)| Block::SectionHeader(b))
            }
            1 if big => parse_interfacedescriptionblock_be(block_bytes)
                .map(|(_, b)| Block::InterfaceDescription(b)),
            1 => parse_interfacedescriptionblock_le(block_bytes)
                .map(|(_, b)| Block::InterfaceDescription(b)),
            6 if big => {
                parse_enhancedpacketblock_be(block_bytes).map(|(_, b)| Block::EnhancedPacket(b))
            }
            6 => parse_enhancedpacketblock_le(block_bytes).map(|(_, b)| Block::EnhancedPacket(b)),
            3 if big => {
                parse_simplepacketblock_be(block_bytes).map(|(_, b)| Block::SimplePacket(b))
            }
            3 => parse_simplepacketblock_le(block_bytes).map(|(_, b)| Block::SimplePacket(b)),
            _ => {
                self.pos += len;
                return Ok(true);
            }
        };
        let block = match parsed {
            Ok(b) => b,
            Err(e) => {
                let why = match e {
                    pcap_parser::nom::Err::Incomplete(_) => "its fields run past its length",
                    _ => "its fields do not follow the block's layout",
                };
                return Err(self.error(
                    at,
                    format!(
                        "bad pcapng block (type {:08x}): {why}",
                        u32_at(rest, 0, big).unwrap_or(0)
                    ),
                ));
            }
        };
        let offset = self.base + at as u64;
        let State::Pcapng {
            big_endian,
            interfaces,
        } = &mut self.state
        else {
            return Ok(false);
        };
        match block {
            Block::SectionHeader(_) => {
                *big_endian = big;
                interfaces.clear();
            }
            Block::InterfaceDescription(idb) => interfaces.push(Interface {
                linktype: idb.linktype.0,
                resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                offset_s: idb.ts_offset(),
            }),
            Block::EnhancedPacket(epb) => {
                let Some(iface) = interfaces.get(epb.if_id as usize) else {
                    return Err(CaptureError {
                        offset,
                        message: format!(
                            "a packet on interface {} but the section describes {} interface(s)",
                            epb.if_id,
                            interfaces.len()
                        ),
                    });
                };
                let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ns = (u128::from(ts) * 1_000_000_000 / u128::from(iface.resolution)) as i64;
                self.frames += 1;
                on_frame(Frame {
                    number: self.frames,
                    offset,
                    time_ns: ns.saturating_add(iface.offset_s.saturating_mul(1_000_000_000)),
                    linktype: iface.linktype,
                    data: epb.packet_data(),
                    orig_len: epb.origlen,
                });
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = interfaces.first() else {
                    return Err(CaptureError {
                        offset,
                        message: "a simple packet block before any interface description".into(),
                    });
                };
                self.frames += 1;
                on_frame(Frame {
                    number: self.frames,
                    offset,
                    time_ns: 0,
                    linktype: iface.linktype,
                    data: spb.packet_data(),
                    orig_len: spb.origlen,
                });
            }
            _ => {}
        }
        self.pos += len;
        Ok(true)
    }
}

fn u32_at(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    })
}
