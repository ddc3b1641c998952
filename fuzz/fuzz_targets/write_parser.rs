//! The embedded store's write path, from request body to points: `decode_body` (gzip
//! and the decompressed-size cap) then `parse_batch` (InfluxData's parser, precision,
//! field types). Any input must give `Ok` or a `WriteError`, never a panic.
//!
//! The first byte picks the precision, gzip and whether the catalog already knows the
//! fields (as another type); the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamswarm::timeseries::embedded::ingest::{Precision, decode_body, parse_batch};
use streamswarm_schema::measurements::FieldType;

const PRECISIONS: [Precision; 6] = [
    Precision::Nanoseconds,
    Precision::Microseconds,
    Precision::Milliseconds,
    Precision::Seconds,
    Precision::Minutes,
    Precision::Hours,
];

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let precision = PRECISIONS[usize::from(control) % PRECISIONS.len()];
    let gzip = control & 0x40 != 0;
    let typed = control & 0x80 != 0;
    // Extreme clocks: the default time of a line without one.
    let now_ns = if control & 0x08 != 0 {
        i64::MAX
    } else {
        1_700_000_000_123_456_789
    };
    let Ok(text) = decode_body(body, gzip, 1 << 20) else {
        return;
    };
    let stored = |_m: &str, f: &str| {
        typed.then(|| match f.len() % 5 {
            0 => FieldType::Float,
            1 => FieldType::Integer,
            2 => FieldType::Unsigned,
            3 => FieldType::String,
            _ => FieldType::Bool,
        })
    };
    let _ = parse_batch(&text, precision, now_ns, stored);
});
