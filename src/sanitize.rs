//! Text from a log made safe for a terminal.
//!
//! Log lines carry attacker-chosen bytes (usernames, mechanisms, whole forged lines). Shown
//! raw, `ESC[2J` clears the admin's screen and U+202E reverses what follows. [`for_terminal`]
//! is the one function that decides how such text is shown: every control character
//! (ESC included), bidirectional control and invisible character becomes a visible
//! `\u{..}` escape. The classification is the one `report::html` uses for its pages.

use std::borrow::Cow;

/// Whether a character is shown as an escape rather than as itself: control characters
/// (ESC, NUL, newline, DEL, C1 controls), bidirectional controls (which reorder what
/// follows, so `exe.txt` can pose as `txt.exe`), invisible ones (which make two names
/// look equal), and noncharacters.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
            | '\u{fdd0}'..='\u{fdef}')
        || (c as u32 & 0xfffe) == 0xfffe
}

/// How a hidden character (see [`is_hidden`]) is shown: `\u{1b}`, `\u{202e}`, the same
/// in a terminal, a CSV cell and an HTML page.
pub fn escape(c: char) -> String {
    c.escape_unicode().to_string()
}

/// `text` for a terminal: hidden characters (see [`is_hidden`]) as `\u{1b}`,
/// `\u{202e}`, ...; a backslash as `\\`, so an escape in the output always means a hidden
/// character and never text the attacker wrote. Borrowed when nothing needed escaping.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_hidden(c) || c == '\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_hidden(c) {
            out.push_str(&escape(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A message for a terminal that may quote log text, paths or a command's output: like
/// [`for_terminal`], but its line breaks stay line breaks (messages list one item a
/// line) and backslashes stay as written (paths and quoted text already show them).
pub fn message_for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_hidden(c) && c != '\n') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if is_hidden(c) && c != '\n' {
                    escape(c)
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Bytes from a log for a terminal: decoded lossily (invalid UTF-8 as U+FFFD), then
/// [`for_terminal`].
pub fn bytes_for_terminal(bytes: &[u8]) -> String {
    for_terminal(&String::from_utf8_lossy(bytes)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_bidi_and_invisible_characters_become_escapes() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "plain_text_is_unchanged",
                "user@example.com",
                "user@example.com",
            ),
            ("escape_sequence", "a\u{1b}[2Jb", "a\\u{1b}[2Jb"),
            ("bell_and_nul", "\u{7}\u{0}", "\\u{7}\\u{0}"),
            ("newline_and_cr", "x\ny\rz", "x\\u{a}y\\u{d}z"),
            ("c1_csi", "\u{9b}31m", "\\u{9b}31m"),
            (
                "right_to_left_override",
                "abc\u{202e}txt",
                "abc\\u{202e}txt",
            ),
            ("zero_width_space", "ad\u{200b}min", "ad\\u{200b}min"),
            ("byte_order_mark", "\u{feff}x", "\\u{feff}x"),
            ("isolates", "\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}"),
            ("backslash_cannot_fake_an_escape", "\\u{1b}", "\\\\u{1b}"),
            ("non_ascii_letters_stay", "jürgen", "jürgen"),
        ];
        for (name, input, want) in cases {
            assert_eq!(for_terminal(input), *want, "{name}");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_then_escaped() {
        assert_eq!(bytes_for_terminal(b"\xff\x1b[2J"), "\u{fffd}\\u{1b}[2J");
    }
}
