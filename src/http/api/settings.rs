use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::routes::ok;
use crate::settings::{DEFINITIONS, Definition, RuntimeSettings};
use crate::store::audit::AuditRecord;
use schemars::JsonSchema;
use serde::Serialize;
use warp::reply::Response;

#[derive(Serialize, JsonSchema)]
pub struct SettingValue {
    pub value: i64,
    #[serde(flatten)]
    pub definition: Definition,
}

/// `{"key": value, …}` with any subset of the settings.
pub type SettingsChange = serde_json::Map<String, serde_json::Value>;

fn view(s: &RuntimeSettings) -> Vec<SettingValue> {
    DEFINITIONS
        .iter()
        .map(|d| SettingValue {
            value: s.get(d.key),
            definition: *d,
        })
        .collect()
}

pub async fn get(ctx: Ctx) -> Result<Response> {
    ok(&view(&RuntimeSettings::load(&ctx.state.store).await?))
}

pub async fn update(ctx: Ctx) -> Result<Response> {
    let changes: SettingsChange = ctx.json()?;
    let store = &ctx.state.store;
    let current = RuntimeSettings::load(store).await?;
    let next = current
        .with_changes(&changes)
        .map_err(|e| Error::invalid(e.key, e.message))?;
    let changed: Vec<(String, serde_json::Value)> = next
        .entries()
        .filter(|(k, v)| current.get(k) != *v)
        .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
        .collect();
    if !changed.is_empty() {
        let actor = ctx.actor();
        store.put_settings(&changed, actor.user_id).await?;
        let details = serde_json::Value::Object(
            changed
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        serde_json::json!({"from": current.get(k), "to": v}),
                    )
                })
                .collect(),
        );
        store
            .audit(AuditRecord {
                actor: &actor.name,
                action: "settings.update",
                target: "settings",
                source_ip: actor.source_ip.as_deref(),
                details,
            })
            .await?;
        ctx.state.settings.invalidate();
    }
    ok(&view(&next))
}
