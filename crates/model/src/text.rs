//! The string rules shared by several columns: trimming and placeholders.

/// Trims Unicode white space (the `White_Space` property) at both ends.
///
/// The same as `str::trim`, with a fast path for the common case of a value that starts and ends
/// with visible ASCII, which has nothing to trim (cleaning trims every field of every event).
///
/// ```
/// use pinpipe_model::text::trim;
/// assert_eq!(trim("\u{a0}x y\u{3000}"), "x y");
/// assert_eq!(trim("x y"), "x y");
/// ```
pub fn trim(text: &str) -> &str {
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Trims Unicode white space at both ends; `None` when nothing is left.
///
/// ```
/// use pinpipe_model::text::non_blank;
/// assert_eq!(non_blank("\u{3000} a b\t"), Some("a b"));
/// assert_eq!(non_blank(" \n "), None);
/// ```
pub fn non_blank(text: &str) -> Option<&str> {
    let trimmed = trim(text);
    (!trimmed.is_empty()).then_some(trimmed)
}

/// Trims, then maps blank values and the given placeholders (matched case-sensitively on the
/// trimmed value) to `None`.
///
/// ```
/// use pinpipe_model::text::without_placeholders;
/// assert_eq!(without_placeholders(" User Info Error ", &["User Info Error"]), None);
/// assert_eq!(without_placeholders("user info error", &["User Info Error"]), Some("user info error"));
/// ```
pub fn without_placeholders<'a>(text: &'a str, placeholders: &[&str]) -> Option<&'a str> {
    non_blank(text).filter(|t| !placeholders.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn trim_is_str_trim(text in any::<String>()) {
            prop_assert_eq!(trim(&text), text.trim());
        }

        #[test]
        fn trim_is_str_trim_on_ascii_edges(text in "[ -~\t\n\u{a0}\u{3000}]{0,8}") {
            prop_assert_eq!(trim(&text), text.trim());
        }
    }
}
