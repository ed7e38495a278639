//! CSV for spreadsheets: every text cell goes through [`cell`], so text an attacker
//! chose (a username like `=HYPERLINK("http://evil")`) is never evaluated as a formula
//! and never carries raw control characters.

use std::borrow::Cow;

/// Characters that make a spreadsheet evaluate a cell (OWASP, "CSV Injection"): a cell
/// starting with one of them is a formula in Excel, LibreOffice and Google Sheets.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One CSV cell for `text`: control and invisible characters escaped by the one rule
/// for log text ([`crate::sanitize::for_terminal`]: `\u{1b}`), a leading formula character neutralised with a `'` in front (OWASP's
/// rule), and the cell quoted (RFC 4180) when it holds a comma, quote or line break or
/// was neutralised.
pub fn cell(text: &str) -> Cow<'_, str> {
    let shown = super::printable(text);
    let formula = shown.starts_with(FORMULA_STARTS);
    if !formula && !shown.contains([',', '"', '\n', '\r']) {
        return if shown == text {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(shown)
        };
    }
    let quote = if formula { "'" } else { "" };
    Cow::Owned(format!("\"{quote}{}\"", shown.replace('"', "\"\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_left_alone_and_separators_are_quoted() {
        assert_eq!(cell("root"), "root");
        assert_eq!(cell("2001:db8::1"), "2001:db8::1");
        assert_eq!(cell("john smith, sales"), "\"john smith, sales\"");
        assert_eq!(cell("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(
            cell("=HYPERLINK(\"http://evil.example\",\"x\")"),
            "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""
        );
        assert_eq!(cell("@SUM(A1:A9)"), "\"'@SUM(A1:A9)\"");
        assert_eq!(cell("+1"), "\"'+1\"");
        assert_eq!(cell("-2+3"), "\"'-2+3\"");
        assert_eq!(
            cell("\t=1"),
            "\\u{9}=1",
            "a tab is shown escaped, so no formula"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(cell("evil\u{1b}[2J\u{7}"), "evil\\u{1b}[2J\\u{7}");
        assert_eq!(cell("a\r\nb"), "a\\u{d}\\u{a}b");
    }
}
