//! Text made safe for the page. Every text from the database (usernames, block reasons,
//! networks) reaches the HTML through one of these; hidden characters are classified and
//! shown by [`crate::sanitize`], the one rule for log text everywhere, and only the
//! HTML entities are decided here.

use std::fmt::{self, Write as _};

use crate::sanitize::{escape as hidden_escape, is_hidden};

/// Text made safe for HTML element content and attribute values: `& < > " '` as
/// entities, hidden characters (see [`is_hidden`]) as visible escapes.
pub(super) struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                c if is_hidden(c) => f.write_str(&hidden_escape(c))?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Like [`Esc`], for element content only: hidden characters are also highlighted, so
/// an escape the client sent (the text `\u{1b}`) differs from a real control character.
pub(super) struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(is_hidden) {
            let (before, after) = rest.split_at(at);
            write!(f, "{}", Esc(before))?;
            let mut chars = after.chars();
            if let Some(c) = chars.next() {
                write!(
                    f,
                    "<span class=\"ctl\" title=\"hidden character\">{}</span>",
                    hidden_escape(c)
                )?;
            }
            rest = chars.as_str();
        }
        write!(f, "{}", Esc(rest))
    }
}

/// A network for a table cell: escaped, and breakable after the colons of IPv6 and before
/// the prefix length, so a long IPv6 network wraps instead of widening the table.
pub(super) struct Network<'a>(pub &'a str);

impl fmt::Display for Network<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut part = String::new();
        for c in self.0.chars() {
            if c == '/' && !part.is_empty() {
                write!(f, "{}<wbr>", Esc(&part))?;
                part.clear();
            }
            part.push(c);
            if c == ':' {
                write!(f, "{}<wbr>", Esc(&part))?;
                part.clear();
            }
        }
        write!(f, "{}", Esc(&part))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(text: &str) -> String {
        Esc(text).to_string()
    }

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            esc("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            esc("\"><img src=x onerror='a'>&amp;"),
            "&quot;&gt;&lt;img src=x onerror=&#39;a&#39;&gt;&amp;amp;"
        );
        assert_eq!(esc("jörg@example.com"), "jörg@example.com");
    }

    #[test]
    fn hidden_characters_become_visible_escapes() {
        assert_eq!(esc("a\u{1b}[2Jb\n\0"), "a\\u{1b}[2Jb\\u{a}\\u{0}");
        assert_eq!(esc("gnp\u{202e}exe"), "gnp\\u{202e}exe");
        assert_eq!(esc("ad\u{200b}min\u{feff}"), "ad\\u{200b}min\\u{feff}");
        assert_eq!(esc("\u{85}\u{ffff}"), "\\u{85}\\u{ffff}");
        // In content they are marked, so a client typing `\u{1b}` looks different.
        assert_eq!(
            Shown("<x>\u{1b}\\u{1b}").to_string(),
            "&lt;x&gt;<span class=\"ctl\" title=\"hidden character\">\\u{1b}</span>\\u{1b}"
        );
        assert_eq!(Shown("").to_string(), "");
        assert_eq!(
            Shown("\u{7}").to_string(),
            "<span class=\"ctl\" title=\"hidden character\">\\u{7}</span>"
        );
    }

    #[test]
    fn networks_break_only_at_colons_and_the_prefix() {
        assert_eq!(Network("192.0.2.0/24").to_string(), "192.0.2.0<wbr>/24");
        assert_eq!(
            Network("2001:db8::/64").to_string(),
            "2001:<wbr>db8:<wbr>:<wbr>/64"
        );
        assert_eq!(Network("<x>").to_string(), "&lt;x&gt;");
    }
}
