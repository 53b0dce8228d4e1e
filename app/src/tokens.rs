//! Opaque secrets handed to clients (bearer tokens, password reset tokens).
//!
//! Only the SHA-256 of a token is stored: a leaked database then yields no
//! usable credentials, and a plain hash suffices because the token already has
//! 256 bits of entropy (no salt or slow hash needed).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore as _;
use sha2::{Digest as _, Sha256};

/// A new random token: 32 bytes from the OS RNG, base64url without padding
/// (43 characters, safe in URLs and headers).
///
/// # Panics
/// If the OS random number generator fails (nothing sensible can continue).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the OS random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_chars_and_unique() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn hash_is_sha256() {
        // SHA-256("abc") from FIPS 180-2.
        assert_eq!(
            hex::encode(hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
