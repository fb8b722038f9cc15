//! EDNS Client Subnet passthrough (RFC 7871): reading a client's ECS option, what goes upstream
//! (source prefix capped, address masked), and what is echoed back. Off by default
//! ([`super::ClientSubnetConfig`]); then the option is dropped like every other client option.

use super::ClientSubnetConfig;
use crate::wire::OptCode;

/// A client's subnet, as received and as sent upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ecs {
    family: u16,
    /// What the client sent: echoed in the answer (RFC 7871 7.2.2).
    client_source: u8,
    client_addr: [u8; 16],
    /// What goes upstream: the source prefix capped by the configuration, the address masked.
    source: u8,
    addr: [u8; 16],
}

fn octets(prefix: u8) -> usize {
    usize::from(prefix).div_ceil(8)
}

/// `addr` with every bit past `prefix` cleared.
fn masked(addr: &[u8; 16], prefix: u8) -> [u8; 16] {
    let mut out = [0u8; 16];
    let full = usize::from(prefix / 8);
    out[..full].copy_from_slice(&addr[..full]);
    let rest = prefix % 8;
    if rest > 0 {
        out[full] = addr[full] & (0xffu8 << (8 - rest));
    }
    out
}

impl Ecs {
    /// The ECS option in an OPT's RDATA (`rdata`), checked (RFC 7871 6 and 7.1.1). Ok(None):
    /// no ECS option. Err: what is wrong with it, for a FORMERR.
    pub(super) fn from_opt(rdata: &[u8], cfg: &ClientSubnetConfig) -> Result<Option<Ecs>, String> {
        let mut i = 0;
        while i + 4 <= rdata.len() {
            let code = u16::from_be_bytes([rdata[i], rdata[i + 1]]);
            let len = usize::from(u16::from_be_bytes([rdata[i + 2], rdata[i + 3]]));
            let Some(data) = rdata.get(i + 4..i + 4 + len) else {
                return Err("EDNS option runs past the OPT record".into());
            };
            i += 4 + len;
            if code != OptCode::CLIENT_SUBNET.0 {
                continue;
            }
            if data.len() < 4 {
                return Err(format!(
                    "ECS option of {} bytes: at least 4 (RFC 7871 6)",
                    data.len()
                ));
            }
            let family = u16::from_be_bytes([data[0], data[1]]);
            let (source, scope, address) = (data[2], data[3], &data[4..]);
            let (max_bits, cap) = match family {
                1 => (32, cfg.max_source_prefix_v4),
                2 => (128, cfg.max_source_prefix_v6),
                f => {
                    return Err(format!(
                        "ECS family {f}: only 1 (IPv4) and 2 (IPv6) (RFC 7871 6)"
                    ))
                }
            };
            if source > max_bits {
                return Err(format!(
                    "ECS source prefix /{source} is longer than the address"
                ));
            }
            if scope != 0 {
                return Err(format!(
                    "ECS scope prefix {scope} in a query: it must be 0 (RFC 7871 6)"
                ));
            }
            if address.len() != octets(source) {
                return Err(format!(
                    "ECS address of {} bytes for /{source}: {} expected (RFC 7871 6)",
                    address.len(),
                    octets(source)
                ));
            }
            let mut client_addr = [0u8; 16];
            client_addr[..address.len()].copy_from_slice(address);
            if masked(&client_addr, source) != client_addr {
                return Err(format!(
                    "ECS address has bits set past /{source} (RFC 7871 6)"
                ));
            }
            let sent = source.min(cap);
            return Ok(Some(Ecs {
                family,
                client_source: source,
                client_addr,
                source: sent,
                addr: masked(&client_addr, sent),
            }));
        }
        Ok(None)
    }

    /// The option's data as sent upstream (scope 0).
    pub(super) fn upstream_data(&self) -> Vec<u8> {
        let mut d = Vec::with_capacity(4 + 16);
        d.extend_from_slice(&self.family.to_be_bytes());
        d.extend_from_slice(&[self.source, 0]);
        d.extend_from_slice(&self.addr[..octets(self.source)]);
        d
    }

    /// The option's data echoed to the client: its own family, prefix and address, with the
    /// upstream's scope (RFC 7871 7.2.2).
    pub(super) fn echo_data(&self, scope: u8) -> Vec<u8> {
        let mut d = Vec::with_capacity(4 + 16);
        d.extend_from_slice(&self.family.to_be_bytes());
        d.extend_from_slice(&[self.client_source, scope]);
        d.extend_from_slice(&self.client_addr[..octets(self.client_source)]);
        d
    }

    /// Appended to the cache key to make the key of in-flight transactions: only queries for
    /// the same subnet (as sent upstream) share one.
    pub(super) fn pending_key(&self, key: &[u8]) -> Box<[u8]> {
        let mut k = key.to_vec();
        k.push(0xec);
        k.extend_from_slice(&self.upstream_data());
        k.into_boxed_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(family: u16, source: u8, scope: u8, addr: &[u8]) -> Vec<u8> {
        let mut d = vec![0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]; // a cookie first
        d.extend_from_slice(&8u16.to_be_bytes());
        d.extend_from_slice(&((4 + addr.len()) as u16).to_be_bytes());
        d.extend_from_slice(&family.to_be_bytes());
        d.extend_from_slice(&[source, scope]);
        d.extend_from_slice(addr);
        d
    }

    #[test]
    fn reads_caps_masks_and_echoes() {
        let cfg = ClientSubnetConfig::default();
        let e = Ecs::from_opt(&opt(1, 32, 0, &[198, 51, 100, 77]), &cfg)
            .unwrap()
            .unwrap();
        assert_eq!(
            e.upstream_data(),
            [0, 1, 24, 0, 198, 51, 100],
            "capped at /24"
        );
        assert_eq!(
            e.echo_data(24),
            [0, 1, 32, 24, 198, 51, 100, 77],
            "the client's own"
        );
        let e = Ecs::from_opt(&opt(2, 56, 0, &[0x20, 1, 0xd, 0xb8, 1, 2, 3]), &cfg)
            .unwrap()
            .unwrap();
        assert_eq!(
            e.upstream_data(),
            [0, 2, 56, 0, 0x20, 1, 0xd, 0xb8, 1, 2, 3]
        );
        let e = Ecs::from_opt(&opt(1, 0, 0, &[]), &cfg).unwrap().unwrap();
        assert_eq!(e.upstream_data(), [0, 1, 0, 0], "/0: the client opts out");
        assert_eq!(Ecs::from_opt(&[0, 10, 0, 0], &cfg), Ok(None));
        assert_ne!(
            Ecs::from_opt(&opt(1, 24, 0, &[10, 0, 0]), &cfg)
                .unwrap()
                .unwrap()
                .pending_key(b"k"),
            Ecs::from_opt(&opt(1, 24, 0, &[10, 0, 1]), &cfg)
                .unwrap()
                .unwrap()
                .pending_key(b"k"),
        );
    }

    #[test]
    fn invalid_options_say_why() {
        let cfg = ClientSubnetConfig::default();
        for (rdata, want) in [
            (opt(3, 8, 0, &[1]), "ECS family 3"),
            (opt(1, 33, 0, &[1, 2, 3, 4, 5]), "longer than the address"),
            (opt(1, 24, 8, &[1, 2, 3]), "scope prefix 8 in a query"),
            (
                opt(1, 24, 0, &[1, 2, 3, 4]),
                "ECS address of 4 bytes for /24",
            ),
            (opt(1, 23, 0, &[1, 2, 3]), "bits set past /23"),
            (vec![0, 8, 0, 9, 0], "runs past the OPT"),
            (vec![0, 8, 0, 2, 0, 1], "at least 4"),
        ] {
            let e = Ecs::from_opt(&rdata, &cfg).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }
}
