//! Password hashing: PBKDF2-HMAC-SHA256 in PHC string format, plus verification
//! of hashes imported from the Django original (`pbkdf2_sha256$iter$salt$b64`).
//!
//! Every function here is CPU-bound on purpose (hundreds of milliseconds); the
//! `*_blocking` helpers at the bottom move the work off the async runtime.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pbkdf2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use pbkdf2::phc::PasswordHash;
use pbkdf2::sha2::Sha256;
use pbkdf2::{Algorithm, Params, Pbkdf2};
use rand::TryRngCore as _;
use subtle::ConstantTimeEq as _;

/// OWASP 2023 floor for PBKDF2-HMAC-SHA256; configuration may only raise it.
pub const MIN_ITERATIONS: u32 = 600_000;

/// Salt length for new hashes (bytes).
const SALT_LEN: usize = 16;

/// Outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Wrong password, or a stored hash we cannot parse (treated the same so a
    /// corrupt row never lets anybody in).
    Invalid,
    /// Right password. `needs_rehash` is set when the stored hash is in the
    /// Django format or uses fewer iterations than configured: the caller
    /// should store a fresh [`hash`] of the password.
    Valid { needs_rehash: bool },
}

impl Verification {
    pub fn is_valid(self) -> bool {
        matches!(self, Verification::Valid { .. })
    }
}

/// Hashes `password` with a fresh random salt and `iterations` rounds.
///
/// # Panics
/// If `iterations` is below PBKDF2's absolute minimum (1000) or the OS RNG
/// fails: both are start-up/configuration bugs, never user input.
pub fn hash(password: &str, iterations: u32) -> String {
    let mut salt = [0u8; SALT_LEN];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .expect("the OS random number generator failed");
    let params = Params::new(iterations).expect("iterations validated by configuration");
    Pbkdf2::new(Algorithm::Pbkdf2Sha256, params)
        .hash_password_with_salt(password.as_bytes(), &salt)
        .expect("PBKDF2 parameters and salt are valid")
        .to_string()
}

/// Checks `password` against a stored PHC or Django hash.
///
/// Costs at least `iterations` PBKDF2 rounds whatever is stored, so that a
/// wrong password for an account with an unusable hash (Django's `!…`), a
/// corrupt one or one with fewer rounds answers as slowly as an unknown
/// account ([`burn`]): log-in timing does not tell them apart. (A stored hash
/// with *more* rounds than configured costs its own count until the first
/// log-in replaces it.)
pub fn verify(password: &str, stored: &str, iterations: u32) -> Verification {
    let (verification, spent) = check(password, stored, iterations);
    burn_rounds(iterations.saturating_sub(spent));
    verification
}

/// The verification itself and the PBKDF2 rounds it spent.
fn check(password: &str, stored: &str, iterations: u32) -> (Verification, u32) {
    if stored.starts_with("pbkdf2_sha256$") {
        return match verify_django(password, stored) {
            (true, spent) => (Verification::Valid { needs_rehash: true }, spent),
            (false, spent) => (Verification::Invalid, spent),
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return (Verification::Invalid, 0);
    };
    // Only accept the algorithm we write ourselves; a `pbkdf2-sha512` row
    // would verify too, but nothing should ever have produced one.
    if parsed.algorithm.as_str() != Algorithm::Pbkdf2Sha256.to_str() {
        return (Verification::Invalid, 0);
    }
    let Ok(params) = Params::try_from(&parsed) else {
        return (Verification::Invalid, 0);
    };
    let spent = params.rounds();
    match Pbkdf2::SHA256.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => (
            Verification::Valid {
                needs_rehash: spent < iterations,
            },
            spent,
        ),
        Err(_) => (Verification::Invalid, spent),
    }
}

/// Spends the same time as a verification at `iterations` rounds without
/// checking anything: used when the account does not exist, so that response
/// times do not reveal which usernames are registered.
pub fn burn(iterations: u32) {
    burn_rounds(iterations);
}

/// `rounds` PBKDF2-HMAC-SHA256 rounds over one 32-byte block: the same
/// primitive, per round, as every hash we verify.
fn burn_rounds(rounds: u32) {
    if rounds == 0 {
        return;
    }
    let mut out = [0u8; 32];
    pbkdf2_sha256(b"timing", b"equaliser salt", rounds, &mut out);
    std::hint::black_box(out);
}

/// PBKDF2-HMAC-SHA256 through the very function the PHC verifier runs
/// (`pbkdf2_hmac_with_params`, compiled once in the pbkdf2 crate). The
/// generic `pbkdf2_hmac::<Sha256>` instantiated in this crate measured about
/// 20 % slower per round, and equal cost per round is the point: a failed
/// log-in must not tell a stored hash from a burn (`login_timing` test).
fn pbkdf2_sha256(password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    match Params::new_with_output_len(rounds, out.len()) {
        Ok(params) => {
            pbkdf2::pbkdf2_hmac_with_params(password, salt, Algorithm::Pbkdf2Sha256, params, out)
        }
        // Below the crate's minimum (1000 rounds): a remainder too small to time.
        Err(_) => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, rounds, out),
    }
}

/// Django's `PBKDF2PasswordHasher`: `pbkdf2_sha256$<iterations>$<salt>$<base64 sha256 dk>`.
/// The salt is used as its raw ASCII bytes, not decoded. Also returns the
/// rounds spent.
fn verify_django(password: &str, stored: &str) -> (bool, u32) {
    let mut parts = stored.split('$');
    let (Some("pbkdf2_sha256"), Some(iterations), Some(salt), Some(expected), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return (false, 0);
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return (false, 0);
    };
    // Guards against a hostile import file: zero rounds would accept anything
    // derived trivially, and absurd counts would pin a CPU per login attempt.
    if !(1..=10_000_000).contains(&iterations) || salt.is_empty() {
        return (false, 0);
    }
    let Ok(expected) = STANDARD.decode(expected) else {
        return (false, 0);
    };
    if expected.len() != 32 {
        return (false, 0);
    }
    let mut derived = [0u8; 32];
    pbkdf2_sha256(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    (derived.ct_eq(&expected).into(), iterations)
}

/// At most one hashing job per CPU at a time: a burst of log-ins then queues
/// (cheaply, asynchronously) instead of spawning hundreds of blocking threads
/// that all fight for the same cores.
fn hashing_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        tokio::sync::Semaphore::new(cpus)
    })
}

async fn run_blocking<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    let _permit = hashing_permits()
        .acquire()
        .await
        .expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(job)
        .await
        .expect("password hashing task panicked")
}

/// [`hash`] on the blocking thread pool.
pub async fn hash_blocking(password: String, iterations: u32) -> String {
    run_blocking(move || hash(&password, iterations)).await
}

/// [`verify`] on the blocking thread pool.
pub async fn verify_blocking(password: String, stored: String, iterations: u32) -> Verification {
    run_blocking(move || verify(&password, &stored, iterations)).await
}

/// [`burn`] on the blocking thread pool.
pub async fn burn_blocking(iterations: u32) {
    run_blocking(move || burn(iterations)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Django's own test vector (`django/tests/auth_tests/test_hashers.py`,
    /// `test_pbkdf2`, Django 1.10 era), cross-checked with Python's
    /// `hashlib.pbkdf2_hmac("sha256", "lètmein".encode(), b"seasalt", 24000)`.
    const DJANGO_VECTOR: &str =
        "pbkdf2_sha256$24000$seasalt$V9DfCAVoweeLwxC/L2mb+7swhzF0XYdyQMqmusZqiTc=";

    // Tests use the real production floor: hashing is optimised in debug
    // builds (see the workspace profile), so this stays well under a second.
    const ITER: u32 = MIN_ITERATIONS;

    #[test]
    fn django_published_vector_verifies_and_asks_for_rehash() {
        assert_eq!(
            verify("lètmein", DJANGO_VECTOR, ITER),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn django_vector_rejects_wrong_password() {
        assert_eq!(
            verify("lètmeinz", DJANGO_VECTOR, ITER),
            Verification::Invalid
        );
        assert_eq!(
            verify("letmein", DJANGO_VECTOR, ITER),
            Verification::Invalid
        );
    }

    #[test]
    fn malformed_django_hashes_are_invalid_not_panics() {
        for stored in [
            "pbkdf2_sha256$",
            "pbkdf2_sha256$abc$seasalt$V9DfCAVoweeLwxC/L2mb+7swhzF0XYdyQMqmusZqiTc=",
            "pbkdf2_sha256$0$seasalt$V9DfCAVoweeLwxC/L2mb+7swhzF0XYdyQMqmusZqiTc=",
            "pbkdf2_sha256$24000$$V9DfCAVoweeLwxC/L2mb+7swhzF0XYdyQMqmusZqiTc=",
            "pbkdf2_sha256$24000$seasalt$not base64",
            "pbkdf2_sha256$24000$seasalt$AAAA",
            "pbkdf2_sha256$24000$seasalt$V9DfCAVoweeLwxC/L2mb+7swhzF0XYdyQMqmusZqiTc=$extra",
            "",
            "!unusable",
            "$pbkdf2-sha256$i=600000,l=32$garbage",
        ] {
            assert_eq!(
                verify("lètmein", stored, ITER),
                Verification::Invalid,
                "{stored}"
            );
        }
    }

    #[test]
    fn phc_round_trip() {
        let stored = hash("correct horse", ITER);
        assert!(
            stored.starts_with("$pbkdf2-sha256$i=600000,l=32$"),
            "{stored}"
        );
        assert_eq!(
            verify("correct horse", &stored, ITER),
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            verify("correct horsf", &stored, ITER),
            Verification::Invalid
        );
    }

    #[test]
    fn salts_are_random() {
        assert_ne!(hash("same", ITER), hash("same", ITER));
    }

    #[test]
    fn fewer_iterations_than_configured_asks_for_rehash() {
        let stored = hash("pw", 1_000);
        assert_eq!(
            verify("pw", &stored, ITER),
            Verification::Valid { needs_rehash: true }
        );
        // ...and a hash at or above the configured count does not.
        let strong = hash("pw", ITER + 1);
        assert_eq!(
            verify("pw", &strong, ITER),
            Verification::Valid {
                needs_rehash: false
            }
        );
    }

    #[tokio::test]
    async fn blocking_helpers_round_trip_concurrently() {
        let stored = hash_blocking("pw in pool".into(), ITER).await;
        let checks = (0..4).map(|i| {
            let stored = stored.clone();
            let guess = if i % 2 == 0 { "pw in pool" } else { "wrong" };
            tokio::spawn(verify_blocking(guess.into(), stored, ITER))
        });
        let results: Vec<_> = futures_results(checks).await;
        assert_eq!(
            results,
            [true, false, true, false],
            "each verification sees its own password"
        );
        burn_blocking(ITER).await;
    }

    async fn futures_results(
        handles: impl Iterator<Item = tokio::task::JoinHandle<Verification>>,
    ) -> Vec<bool> {
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap().is_valid());
        }
        out
    }

    #[test]
    fn sha512_phc_hashes_are_refused() {
        let params = Params::new(1_000).unwrap();
        let other = Pbkdf2::new(Algorithm::Pbkdf2Sha512, params)
            .hash_password_with_salt(b"pw", b"0123456789abcdef")
            .unwrap()
            .to_string();
        assert_eq!(verify("pw", &other, ITER), Verification::Invalid);
    }
}
