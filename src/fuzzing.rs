//! Entry points for the fuzz targets in `fuzz/`; not an API.
//!
//! Each runs the same parsing and validation as its route's handler, without a
//! database: the handlers call these very functions before they touch the store.

use crate::admin::users::check_new_user;
use crate::http::api::{agent, groups, settings, tests, users};
use crate::settings::RuntimeSettings;
use secrecy::SecretString;
use serde::de::DeserializeOwned;

/// The JSON bodies of `POST/PUT /api/v1/tests`, `POST /api/v1/groups`,
/// `POST /api/v1/users`, `PATCH /api/v1/users/{id}`, `PATCH /api/v1/settings`, the agent
/// heartbeat and enrolment. The first byte picks the body type, the rest is the body.
/// Any input must end in `Ok` or an error value, never a panic.
pub fn api_body(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 7 {
        0 => {
            if let Some(input) = decode::<tests::TestInput>(body) {
                let _ = tests::validate(input, None);
            }
        }
        1 => {
            if let Some(group) = decode::<groups::NewGroup>(body) {
                let _ = group.validate();
            }
        }
        2 => {
            if let Some(user) = decode::<users::NewUser>(body) {
                let _ = check_new_user(&user.username, &SecretString::from(user.password));
            }
        }
        3 => {
            if let Some(update) = decode::<users::UserUpdate>(body) {
                let _ = update.checked_password();
            }
        }
        4 => {
            if let Some(changes) = decode::<settings::SettingsChange>(body) {
                let _ = RuntimeSettings::default().with_changes(&changes);
            }
        }
        5 => {
            if let Some(heartbeat) = decode::<agent::Heartbeat>(body) {
                let _ = heartbeat.validate();
            }
        }
        _ => {
            if let Some(enrolment) = decode::<agent::Enrolment>(body) {
                let _ = enrolment.validate();
            }
        }
    }
}

/// The handlers' JSON reading (`Ctx::json`), NUL refusal included.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    crate::http::ctx::decode_json(body).ok()
}
