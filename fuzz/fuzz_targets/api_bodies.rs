//! The JSON API bodies (tests, groups, users, settings, agent heartbeat and enrolment)
//! through the handlers' own parsing and validation (`streamswarm::fuzzing::api_body`).
//! Any input must give a value or an error, never a panic.
//!
//! The first byte picks the body type; the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| streamswarm::fuzzing::api_body(data));
