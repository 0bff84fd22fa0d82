//! AES-256-GCM with random 96-bit nonces, on aws-lc-rs (the one crypto stack: rustls and the token
//! code link it anyway). A sealed body is `nonce (12) | ciphertext | tag (16)`; the callers put
//! their own header in front and pass it (or more) as associated data.

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use zeroize::Zeroizing;

/// Bytes of a nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes of the authentication tag.
pub const TAG_LEN: usize = 16;

/// The cipher failed (sealing) or the body did not authenticate (opening): nothing more is said.
#[derive(Debug, thiserror::Error)]
#[error("AES-GCM refused")]
pub struct Refused;

impl From<aws_lc_rs::error::Unspecified> for Refused {
    fn from(_: aws_lc_rs::error::Unspecified) -> Self {
        Refused
    }
}

/// Seals `plaintext` under `key` with `aad`, appending `nonce | ciphertext | tag` to `out`.
pub fn seal_into(
    key: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Refused> {
    let cipher = RandomizedNonceKey::new(&AES_256_GCM, key)?;
    let start = out.len();
    out.reserve(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&[0; NONCE_LEN]);
    out.extend_from_slice(plaintext);
    let sealed = cipher.seal_in_place_separate_tag(Aad::from(aad), &mut out[start + NONCE_LEN..]);
    match sealed {
        Ok((nonce, tag)) => {
            out[start..start + NONCE_LEN].copy_from_slice(nonce.as_ref());
            out.extend_from_slice(tag.as_ref());
            Ok(())
        }
        Err(_) => {
            // Never leave the plaintext behind in the caller's buffer, nor in its spare capacity.
            zeroize::Zeroize::zeroize(&mut out[start..]);
            out.truncate(start);
            Err(Refused)
        }
    }
}

/// Opens a `nonce | ciphertext | tag` body sealed under `key` with `aad`.
pub fn open(key: &[u8; 32], aad: &[u8], body: &[u8]) -> Result<Zeroizing<Vec<u8>>, Refused> {
    if body.len() < NONCE_LEN + TAG_LEN {
        return Err(Refused);
    }
    let (nonce, sealed) = body.split_at(NONCE_LEN);
    let cipher = RandomizedNonceKey::new(&AES_256_GCM, key)?;
    let mut buffer = Zeroizing::new(sealed.to_vec());
    let plain_len = cipher
        .open_in_place(
            Nonce::try_assume_unique_for_key(nonce)?,
            Aad::from(aad),
            buffer.as_mut_slice(),
        )?
        .len();
    buffer.truncate(plain_len);
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn round_trips_and_appends_after_what_is_there() {
        let mut out = b"header".to_vec();
        seal_into(&KEY, b"aad", b"secret", &mut out).unwrap();
        assert_eq!(&out[..6], b"header");
        assert_eq!(out.len(), 6 + NONCE_LEN + 6 + TAG_LEN);
        assert!(!out.windows(6).skip(1).any(|w| w == b"secret"));
        assert_eq!(open(&KEY, b"aad", &out[6..]).unwrap().as_slice(), b"secret");
    }

    #[test]
    fn nonces_differ_between_seals() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        seal_into(&KEY, b"", b"same", &mut a).unwrap();
        seal_into(&KEY, b"", b"same", &mut b).unwrap();
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn refuses_another_key_aad_or_any_flipped_bit() {
        let mut body = Vec::new();
        seal_into(&KEY, b"aad", b"secret", &mut body).unwrap();
        assert!(open(&[8; 32], b"aad", &body).is_err());
        assert!(open(&KEY, b"other", &body).is_err());
        for i in 0..body.len() {
            let mut flipped = body.clone();
            flipped[i] ^= 1;
            assert!(open(&KEY, b"aad", &flipped).is_err(), "bit flip at {i}");
        }
        assert!(open(&KEY, b"aad", &body[..NONCE_LEN + TAG_LEN - 1]).is_err());
        assert!(open(&KEY, b"aad", &[]).is_err());
    }

    #[test]
    fn opens_a_body_another_implementation_sealed() {
        // AES-256-GCM is deterministic for a given nonce: this body (key [7; 32], nonce [1; 12],
        // aad "aad", plaintext "secret") was made with Python's `cryptography` (OpenSSL), so
        // values sealed by the RustCrypto crate used before aws-lc-rs still open.
        let body = hex("0101010101010101010101010584eac5f5cbcc0c76bb63b78e8107dea99ab3f4e091");
        assert_eq!(open(&KEY, b"aad", &body).unwrap().as_slice(), b"secret");
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
