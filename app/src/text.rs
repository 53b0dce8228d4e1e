//! Which characters each kind of text field refuses (docs/contracts.md,
//! "Text fields"), shared by the account and post domains so that one rule
//! has one definition.
//!
//! - Control characters (Unicode `Cc`: C0, DEL, C1) are invisible, break
//!   terminals and log viewers, and NUL is the same as its absence to PBKDF2
//!   and cannot be stored by Postgres. Long text keeps tab and line breaks.
//! - Bidirectional formatting characters reorder the text around them: an
//!   override (U+202E) makes `gpj.exe` read `exe.jpg`. Identifiers (names,
//!   addresses) refuse every one; one-line display text refuses those that
//!   reorder (embeddings, overrides, isolates), keeping the harmless marks;
//!   post bodies keep them all, as right-to-left authors need them.

/// A control character (C0, DEL or C1).
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// A control character other than tab, line feed and carriage return (which
/// long text keeps: forms send line breaks as CRLF).
pub fn is_control_in_long_text(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): the
/// bidirectional formatting characters that reorder the text that follows.
pub fn is_bidi_reordering(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Every bidirectional formatting character: [`is_bidi_reordering`] and the
/// marks (U+200E, U+200F, U+061C).
pub fn is_bidi_formatting(c: char) -> bool {
    is_bidi_reordering(c) || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for c in [
            '\0', '\u{7}', '\t', '\n', '\r', '\u{7f}', '\u{85}', '\u{9b}',
        ] {
            assert!(is_control(c), "{c:?}");
        }
        for c in ['\t', '\n', '\r', 'a', ' '] {
            assert!(!is_control_in_long_text(c), "{c:?}");
        }
        assert!(is_control_in_long_text('\0'));
        assert!(is_control_in_long_text('\u{9b}'));
        for c in ['\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}'] {
            assert!(is_bidi_reordering(c) && is_bidi_formatting(c), "{c:?}");
        }
        for c in ['\u{200E}', '\u{200F}', '\u{061C}'] {
            assert!(!is_bidi_reordering(c) && is_bidi_formatting(c), "{c:?}");
        }
        for c in ['a', 'é', 'ش', '\u{200D}'] {
            assert!(!is_bidi_formatting(c), "{c:?}");
        }
    }
}
