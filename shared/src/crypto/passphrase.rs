//! A key from a passphrase, for what is kept outside the key service (a local backup): PBKDF2 with
//! HMAC-SHA-256 (aws-lc-rs, FIPS-approved) over a random salt, at OWASP's 2023 count for it.

use std::num::NonZeroU32;

use zeroize::Zeroizing;

/// Iterations of PBKDF2-HMAC-SHA256 (OWASP's recommendation for it).
pub const ITERATIONS: u32 = 600_000;
/// The shortest passphrase accepted.
pub const MIN_CHARS: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    #[error("a passphrase is at least {MIN_CHARS} characters")]
    TooShort,
    #[error("iterations must be at least one")]
    NoIterations,
}

/// The 256-bit key `passphrase` and `salt` give after `iterations` rounds.
pub fn derive(
    passphrase: &str,
    salt: &[u8],
    iterations: u32,
) -> Result<Zeroizing<[u8; 32]>, PassphraseError> {
    if passphrase.chars().count() < MIN_CHARS {
        return Err(PassphraseError::TooShort);
    }
    let rounds = NonZeroU32::new(iterations).ok_or(PassphraseError::NoIterations)?;
    let mut key = Zeroizing::new([0u8; 32]);
    aws_lc_rs::pbkdf2::derive(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        salt,
        passphrase.as_bytes(),
        key.as_mut(),
    );
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_vector_and_the_rules() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64), first 32 bytes.
        let key = derive("passwd______", b"salt", 1).unwrap();
        assert_ne!(key.as_ref(), &[0u8; 32], "a key was derived");
        let vector = {
            let mut out = [0u8; 32];
            aws_lc_rs::pbkdf2::derive(
                aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
                NonZeroU32::new(1).unwrap(),
                b"salt",
                b"passwd",
                &mut out,
            );
            out
        };
        assert_eq!(
            vector[..8],
            [0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f]
        );
        assert!(matches!(
            derive("short", b"salt", 1),
            Err(PassphraseError::TooShort)
        ));
        assert!(matches!(
            derive("long enough words", b"salt", 0),
            Err(PassphraseError::NoIterations)
        ));
        let a = derive("long enough words", b"salt-a", 2).unwrap();
        let b = derive("long enough words", b"salt-b", 2).unwrap();
        assert_ne!(*a, *b, "another salt, another key");
    }
}
