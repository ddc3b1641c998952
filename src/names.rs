//! The one rule for every name a person types and others read: test, group, agent and
//! token names, and (under its own stricter alphabet) usernames.
//!
//! A name is trimmed, then must be 1–100 characters with no control character (Unicode
//! `Cc`: NUL, escape, newline …), no bidirectional override or isolate (U+202A–U+202E,
//! U+2066–U+2069, which make a name read differently from what it is) and no line or
//! paragraph separator, and must show at least one visible character (a name made only
//! of zero-width or blank characters looks empty in every list). Unicode normalisation
//! is not required.

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The trimmed name, or why it is refused (a message to pair with the field's name).
pub fn human_name(raw: &str) -> Result<&str, String> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(format!(
            "must be 1–{MAX_NAME_CHARS} characters, got {chars}"
        ));
    }
    if let Some(message) = forbidden_character(name) {
        return Err(message);
    }
    if name.chars().all(|c| c.is_whitespace() || invisible(c)) {
        return Err("must contain a visible character".into());
    }
    Ok(name)
}

/// Why `s` holds a character no name may hold anywhere, if it does.
pub fn forbidden_character(s: &str) -> Option<String> {
    s.chars().find(|&c| forbidden(c)).map(|c| {
        format!(
            "must not contain control, bidirectional-override or line-separator characters (found U+{:04X})",
            c as u32
        )
    })
}

/// Characters no name may hold anywhere.
fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// Characters that render as nothing (format characters, fillers, variation selectors);
/// allowed inside a name, but a name of only these is invisible.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}'
        | '\u{206A}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_trimmed_and_kept() {
        assert_eq!(human_name("  core switch ").unwrap(), "core switch");
        assert_eq!(
            human_name("Zürich → Genève ✓").unwrap(),
            "Zürich → Genève ✓"
        );
        assert_eq!(human_name("שלום").unwrap(), "שלום");
        // Zero-width joiners inside a visible name (emoji sequences) are fine.
        assert_eq!(human_name("👩\u{200D}💻 lab").unwrap(), "👩\u{200D}💻 lab");
        let longest = "é".repeat(MAX_NAME_CHARS);
        assert_eq!(human_name(&longest).unwrap(), longest);
    }

    #[test]
    fn refuses_empty_and_overlong_names() {
        for bad in ["", "   ", "\u{3000}"] {
            assert!(human_name(bad).unwrap_err().contains("1–100"), "{bad:?}");
        }
        assert!(
            human_name(&"x".repeat(MAX_NAME_CHARS + 1))
                .unwrap_err()
                .contains("got 101")
        );
    }

    #[test]
    fn refuses_control_bidi_and_separator_characters() {
        for bad in [
            "a\0b",
            "admin\0",
            "red\u{1b}[31m",
            "two\nlines",
            "tab\there",
            "c1\u{85}next",
            "\u{202E}gnp.exe",
            "a\u{202A}b",
            "iso\u{2066}late",
            "pop\u{2069}",
            "line\u{2028}sep",
        ] {
            let e = human_name(bad).unwrap_err();
            assert!(e.contains("found U+"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn refuses_names_with_nothing_visible() {
        for bad in [
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}",
            "\u{FEFF}",
            "\u{2060} \u{2063}",
            "\u{3164}",
            "\u{E0041}\u{E0042}",
            "\u{00AD}",
        ] {
            assert_eq!(
                human_name(bad).unwrap_err(),
                "must contain a visible character",
                "{bad:?}"
            );
        }
    }
}
