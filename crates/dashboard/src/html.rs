//! Writing HTML into a `String`: escaping, the page frame every page shares, and small pieces
//! (tables, numbers, bars). No template engine: every value from the DB, the log or the overview
//! goes through [`esc`] (or [`json_script`] inside `<script>`), so stored bytes such as
//! `<script>alert(1)</script>` are shown as text.

use std::fmt::Write as _;

use crate::assets;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for element content and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON for a `<script type="application/json">` element: `<`, `>` and `&` as `\u00XX`
/// escapes, so no value can end the element.
pub fn json_script(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// A count with thin thousands separators (`12 345`).
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// A rate or a duration with a sensible number of digits.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return "–".to_owned();
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The pages, in the navigation's order: (path, title, page id).
pub const PAGES: [(&str, &str, &str); 6] = [
    ("/dashboard", "Pipeline", "overview"),
    ("/dashboard/realtime", "Real time", "realtime"),
    ("/dashboard/log", "Event log", "log"),
    ("/dashboard/errors", "Errors", "errors"),
    ("/dashboard/runs", "Runs", "runs"),
    ("/dashboard/analytics", "Analytics", "analytics"),
];

/// A whole page: head with the vendored and own stylesheets, navigation, `body`, the initial
/// data for the scripts, and the scripts (all same-origin).
pub fn page(id: &str, title: &str, body: &str, initial: &serde_json::Value) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>pinpipe · {title}</title>\
         <link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"{uplot_css}\">\
         <link rel=\"stylesheet\" href=\"{own_css}\">\
         </head><body data-page=\"{id}\"><header><a class=\"brand\" href=\"/dashboard\">pinpipe</a><nav>",
        title = esc(title),
        id = esc(id),
        uplot_css = assets::UPLOT_CSS_PATH,
        own_css = assets::css_path(),
    );
    for (path, name, page_id) in PAGES {
        let current = if page_id == id {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(out, "<a href=\"{path}\"{current}>{name}</a>");
    }
    let _ = writeln!(
        out,
        "</nav><span id=\"live\" class=\"live\" title=\"updates once a second\">server-rendered</span></header>\
         <main><h1>{title}</h1>{body}</main>\
         <script type=\"application/json\" id=\"initial\">{initial}</script>\
         <script src=\"{uplot_js}\"></script><script src=\"{own_js}\"></script></body></html>",
        title = esc(title),
        initial = json_script(initial),
        uplot_js = assets::UPLOT_JS_PATH,
        own_js = assets::js_path(),
    );
    out
}

/// A `<table>` with a header row and escaped cells; `id` (may be empty) names it for the
/// scripts.
pub fn table(id: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    if id.is_empty() {
        out.push_str("<table>");
    } else {
        let _ = write!(out, "<table id=\"{}\">", esc(id));
    }
    out.push_str("<thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr class=\"empty\"><td colspan=\"{}\">none</td></tr>",
            header.len().max(1)
        );
    }
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A notice that something could not be read (escaped).
pub fn notice(text: &str) -> String {
    format!("<p class=\"notice\">{}</p>", esc(text))
}

/// A uPlot chart container: the script draws into it; `title` is shown above.
pub fn chart(id: &str, title: &str) -> String {
    format!(
        "<figure class=\"panel\"><figcaption>{}</figcaption><div class=\"chart\" id=\"{}\"></div></figure>",
        esc(title),
        esc(id)
    )
}

/// A bar's value: a whole count as a count (`12`, `1 234`), anything else as a [`number`]
/// (a median of `12.5`).
fn measure(value: f64) -> String {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value < 1e15 {
        count(value as u64)
    } else {
        number(value)
    }
}

/// Horizontal bars (label, value) drawn with CSS widths, readable without JavaScript.
pub fn bars(labels_values: &[(String, f64)], unit: &str) -> String {
    let max = labels_values
        .iter()
        .map(|(_, v)| *v)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let mut out = String::from("<div class=\"bars\">");
    for (label, value) in labels_values {
        let width = if max > 0.0 && value.is_finite() {
            (value / max * 100.0).clamp(0.0, 100.0)
        } else {
            0.0
        };
        let _ = write!(
            out,
            "<div class=\"bar-row\"><span class=\"bar-label\">{label}</span>\
             <span class=\"bar\"><span style=\"width:{width:.1}%\"></span></span>\
             <span class=\"bar-value\">{value}{unit}</span></div>",
            label = esc(label),
            value = measure(*value),
            unit = esc(unit),
        );
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(esc("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn json_in_a_script_element_cannot_close_it() {
        let v = serde_json::json!({"raw": "</script><script>alert(1)</script>&"});
        let s = json_script(&v);
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn counts_and_numbers() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1\u{202f}000");
        assert_eq!(count(1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(number(0.5), "0.50");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1234.5), "1234");
        assert_eq!(number(f64::NAN), "–");
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let html = bars(&[("a".into(), 50.0), ("<b>".into(), 100.0)], "");
        assert!(html.contains("width:50.0%"), "{html}");
        assert!(html.contains("width:100.0%"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
        // Counts as counts, medians with their decimals.
        assert!(
            html.contains("<span class=\"bar-value\">50</span>"),
            "{html}"
        );
        let html = bars(&[("m".into(), 12.5), ("n".into(), 1234.0)], "");
        assert!(
            html.contains(">12.5<") && html.contains(">1\u{202f}234<"),
            "{html}"
        );
    }
}
