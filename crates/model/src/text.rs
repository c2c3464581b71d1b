//! The string rules shared by several columns: trimming and placeholders.

/// Trims Unicode white space at both ends; `None` when nothing is left.
///
/// ```
/// use pinpipe_model::text::non_blank;
/// assert_eq!(non_blank("\u{3000} a b\t"), Some("a b"));
/// assert_eq!(non_blank(" \n "), None);
/// ```
pub fn non_blank(text: &str) -> Option<&str> {
    let trimmed = text.trim();
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
