//! Static assets embedded in the binary: our own `app.css`/`app.js` and the vendored
//! third-party files (`scripts/vendor-assets.sh`). No CDN, no files on disk at run time.
//!
//! Pages link `/assets/<hash>/<name>` (the [`url`] of an asset): the first 12 hex digits
//! of its SHA-256, so a URL never changes content and is cached for a year
//! (`immutable`). `/assets/<name>` also works (ETag, revalidated). Anything else is 404.

use crate::error::{Error, Result};
use crate::http::Ctx;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// First 12 hex digits of SHA-256(bytes).
    pub hash: String,
}

macro_rules! asset {
    ($name:literal, $path:literal, $ct:literal) => {
        ($name, $ct, include_bytes!($path) as &'static [u8])
    };
}

const FILES: &[(&str, &str, &[u8])] = &[
    asset!("app.css", "assets/app.css", "text/css; charset=utf-8"),
    asset!("app.js", "assets/app.js", "text/javascript; charset=utf-8"),
    asset!(
        "charts.js",
        "assets/charts.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "paths.js",
        "assets/paths.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "vendor/leaflet.js",
        "assets/vendor/leaflet.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "vendor/leaflet.css",
        "assets/vendor/leaflet.css",
        "text/css; charset=utf-8"
    ),
    asset!(
        "vendor/LICENSE.leaflet",
        "assets/vendor/LICENSE.leaflet",
        "text/plain; charset=utf-8"
    ),
    asset!(
        "vendor/bootstrap.min.css",
        "assets/vendor/bootstrap.min.css",
        "text/css; charset=utf-8"
    ),
    asset!(
        "vendor/bootstrap.bundle.min.js",
        "assets/vendor/bootstrap.bundle.min.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "vendor/chart.umd.min.js",
        "assets/vendor/chart.umd.min.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "vendor/chartjs-adapter-date-fns.bundle.min.js",
        "assets/vendor/chartjs-adapter-date-fns.bundle.min.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "vendor/LICENSE.bootstrap",
        "assets/vendor/LICENSE.bootstrap",
        "text/plain; charset=utf-8"
    ),
    asset!(
        "vendor/LICENSE.chart.js",
        "assets/vendor/LICENSE.chart.js",
        "text/plain; charset=utf-8"
    ),
    asset!(
        "vendor/LICENSE.chartjs-adapter-date-fns",
        "assets/vendor/LICENSE.chartjs-adapter-date-fns",
        "text/plain; charset=utf-8"
    ),
    asset!(
        "vendor/LICENSE.date-fns",
        "assets/vendor/LICENSE.date-fns",
        "text/plain; charset=utf-8"
    ),
];

pub static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, content_type, bytes)| Asset {
            name,
            content_type,
            bytes,
            hash: hex::encode(&Sha256::digest(bytes)[..6]),
        })
        .collect()
});

pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The cache-busting URL of an embedded asset; panics on an unknown name (templates
/// name assets literally, and every template is rendered by the tests).
pub fn url(name: &str) -> String {
    match find(name) {
        Some(a) => format!("/assets/{}/{}", a.hash, a.name),
        None => panic!("unknown asset {name:?}"),
    }
}

/// `GET /assets/{*path}`.
pub async fn serve(ctx: Ctx) -> Result<Response> {
    let path = ctx
        .params
        .iter()
        .find(|(k, _)| k == "path")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let not_found = || Error::NotFound(format!("asset {path:?}"));
    let (asset, immutable) = match path.split_once('/') {
        Some((hash, name)) if hash.len() == 12 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            let a = find(name).ok_or_else(not_found)?;
            if a.hash != hash {
                return Err(not_found());
            }
            (a, true)
        }
        _ => (find(path).ok_or_else(not_found)?, false),
    };
    let etag = format!("\"{}\"", asset.hash);
    let fresh = ctx
        .header("if-none-match")
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut r = if fresh {
        let mut r = Response::new(Vec::new().into());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(asset.bytes.into())
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is ASCII"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    Ok(r)
}
