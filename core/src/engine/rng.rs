//! The engine's only source of randomness: a ChaCha20 keystream (a CSPRNG) seeded by the caller.
//! It draws upstream query IDs (RFC 5452 9: IDs must not be predictable from earlier ones, which
//! rules out a fast non-cryptographic generator such as xoshiro), random upstream selection and
//! exploration. The native server seeds it from the OS once per worker; the simulator and the
//! tests seed it from their scenario, so the same seed gives the same decisions. The `chacha20`
//! crate is built without its OS-entropy path: the core never reaches for OS randomness.

use chacha20::rand_core::{Rng as _, SeedableRng};
use chacha20::ChaCha20Rng;

#[derive(Debug)]
pub struct Rng {
    inner: ChaCha20Rng,
}

impl Rng {
    /// Seeds from 32 bytes (the ChaCha20 key).
    pub fn from_seed(seed: [u8; 32]) -> Rng {
        Rng {
            inner: ChaCha20Rng::from_seed(seed),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    pub fn next_u16(&mut self) -> u16 {
        (self.next_u64() >> 48) as u16
    }

    /// Uniform in `0..n` (n > 0), by Lemire's multiply-shift.
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.next_u64() as u32) * u64::from(n)) >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_spread() {
        let mut a = Rng::from_seed([7; 32]);
        let mut b = Rng::from_seed([7; 32]);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut z = Rng::from_seed([0; 32]);
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            counts[z.below(4) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }

    #[test]
    fn is_chacha20_keystream() {
        // RFC 8439 2.3.2 style check: key 0, nonce 0, block 0 starts 76 b8 e0 ad a0 f1 3d 90.
        let mut r = Rng::from_seed([0; 32]);
        assert_eq!(
            r.next_u64().to_le_bytes(),
            [0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90]
        );
    }
}
