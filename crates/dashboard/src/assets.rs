//! The static files, compiled into the binary: uPlot 1.6.32 as vendored from npm
//! (`assets/uplot-1.6.32/`, with its MIT licence and `SHA256SUMS`), and the dashboard's own script
//! and stylesheet. Each is served from a path that changes when its content does (uPlot's carries
//! its version, the own files a hash of their bytes), so every response may be cached forever
//! (`Cache-Control: immutable`).

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// uPlot's script.
pub const UPLOT_JS: &[u8] = include_bytes!("../assets/uplot-1.6.32/uPlot.iife.min.js");
/// uPlot's stylesheet.
pub const UPLOT_CSS: &[u8] = include_bytes!("../assets/uplot-1.6.32/uPlot.min.css");
/// uPlot's licence (MIT).
pub const UPLOT_LICENSE: &[u8] = include_bytes!("../assets/uplot-1.6.32/LICENSE");
/// The dashboard's script.
pub const OWN_JS: &[u8] = include_bytes!("../assets/dashboard.js");
/// The dashboard's stylesheet.
pub const OWN_CSS: &[u8] = include_bytes!("../assets/dashboard.css");

/// Where uPlot's script is served.
pub const UPLOT_JS_PATH: &str = "/assets/uplot-1.6.32/uPlot.iife.min.js";
/// Where uPlot's stylesheet is served.
pub const UPLOT_CSS_PATH: &str = "/assets/uplot-1.6.32/uPlot.min.css";
/// Where uPlot's licence is served.
pub const UPLOT_LICENSE_PATH: &str = "/assets/uplot-1.6.32/LICENSE";

/// FNV-1a (64 bits) of `bytes`: enough to tell versions of a file apart in its path.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

static JS_PATH: LazyLock<String> =
    LazyLock::new(|| format!("/assets/dashboard-{:016x}.js", fnv1a(OWN_JS)));
static CSS_PATH: LazyLock<String> =
    LazyLock::new(|| format!("/assets/dashboard-{:016x}.css", fnv1a(OWN_CSS)));

/// Where the dashboard's script is served (the path names its content's hash).
pub fn js_path() -> &'static str {
    &JS_PATH
}

/// Where the dashboard's stylesheet is served.
pub fn css_path() -> &'static str {
    &CSS_PATH
}

/// Every asset: (path, content type, bytes).
pub fn all() -> [(&'static str, &'static str, &'static [u8]); 5] {
    [
        (UPLOT_JS_PATH, "text/javascript; charset=utf-8", UPLOT_JS),
        (UPLOT_CSS_PATH, "text/css; charset=utf-8", UPLOT_CSS),
        (
            UPLOT_LICENSE_PATH,
            "text/plain; charset=utf-8",
            UPLOT_LICENSE,
        ),
        (js_path(), "text/javascript; charset=utf-8", OWN_JS),
        (css_path(), "text/css; charset=utf-8", OWN_CSS),
    ]
}

/// The response for one asset.
pub fn response(content_type: &'static str, bytes: &'static [u8]) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_asset_paths_follow_their_content() {
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        assert!(js_path().starts_with("/assets/dashboard-") && js_path().ends_with(".js"));
        assert!(css_path().ends_with(".css"));
        let paths: std::collections::BTreeSet<_> = all().iter().map(|(p, _, _)| *p).collect();
        assert_eq!(paths.len(), 5, "distinct paths");
    }
}
