use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::routes::{created, no_content, ok};
use crate::store::audit::AuditRecord;
use crate::store::tests::{Assignments, TestDraft, TestFilter, TestRecord};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use streamswarm_schema::{Schedule, TestKind, TestParams, TestSpec, ValidationError};
use warp::reply::Response;

/// A test as clients send it; `params` are checked against `kind`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub kind: TestKind,
    #[serde(default)]
    pub target: String,
    /// Per-kind parameters; omitted keys take their defaults.
    #[serde(default)]
    pub params: serde_json::Value,
    pub schedule: Schedule,
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    #[serde(default)]
    pub assignments: Assignments,
}

fn enabled_default() -> bool {
    true
}

#[derive(Serialize, JsonSchema)]
pub struct TestPage {
    pub tests: Vec<TestRecord>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    search: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// Parses and validates the whole input, reporting every problem at once.
async fn draft(ctx: &Ctx) -> Result<TestDraft> {
    let input: TestInput = ctx.json()?;
    let unknown_assignment = ctx
        .state
        .store
        .check_assignments(&input.assignments)
        .await
        .err()
        .map(|(field, message)| ValidationError::new(field, message));
    validate(input, unknown_assignment)
}

/// Every check of a test's input that needs no store (the fuzz target runs it too);
/// `store_finding` is the store's verdict on the assignments, reported with the rest.
pub(crate) fn validate(
    input: TestInput,
    store_finding: Option<ValidationError>,
) -> Result<TestDraft> {
    let mut errors = Vec::new();
    let name = match crate::names::human_name(&input.name) {
        Ok(name) => name.to_owned(),
        Err(m) => {
            errors.push(ValidationError::new("name", m));
            String::new()
        }
    };
    if input.description.chars().count() > 2000 {
        errors.push(ValidationError::new(
            "description",
            "must be at most 2000 characters",
        ));
    }
    let params =
        TestParams::from_json(input.kind, input.params).map_err(|e| Error::Invalid(vec![e]))?;
    let spec = TestSpec {
        kind: input.kind,
        target: input.target.trim().to_owned(),
        params,
        schedule: input.schedule,
    };
    if let Err(e) = spec.validate() {
        errors.extend(e);
    }
    errors.extend(store_finding);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(TestDraft {
        name,
        description: input.description,
        spec,
        enabled: input.enabled,
        assignments: input.assignments,
    })
}

pub async fn list(ctx: Ctx) -> Result<Response> {
    let q: ListQuery = ctx.query()?;
    let kind = q
        .kind
        .filter(|k| !k.is_empty())
        .map(|k| {
            TestKind::parse(&k)
                .ok_or_else(|| Error::invalid("kind", format!("unknown test kind {k:?}")))
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "must be between 1 and 500"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::invalid("offset", "must not be negative"));
    }
    let filter = TestFilter {
        search: q.search,
        kind,
        limit,
        offset,
    };
    let (tests, total) = ctx.state.store.list_tests(&filter).await?;
    ok(&TestPage {
        tests,
        total,
        limit: filter.limit,
        offset: filter.offset,
    })
}

pub async fn get(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    ok(&ctx.test(id).await?)
}

async fn audit(ctx: &Ctx, action: &str, test: &TestRecord) -> Result<()> {
    let actor = ctx.actor();
    ctx.state
        .store
        .audit(AuditRecord {
            actor: &actor.name,
            action,
            target: &format!("test:{}", test.id),
            source_ip: actor.source_ip.as_deref(),
            details: serde_json::json!({"name": test.name, "kind": test.spec.kind, "target": test.spec.target}),
        })
        .await?;
    Ok(())
}

pub async fn create(ctx: Ctx) -> Result<Response> {
    let d = draft(&ctx).await?;
    let test = ctx.state.store.create_test(&d, ctx.actor().user_id).await?;
    audit(&ctx, "test.create", &test).await?;
    created(&test)
}

pub async fn update(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    if ctx.state.store.test(id).await?.is_none() {
        return Err(Error::NotFound(format!("test {id}")));
    }
    let d = draft(&ctx).await?;
    let test = ctx.state.store.update_test(id, &d).await?;
    audit(&ctx, "test.update", &test).await?;
    ok(&test)
}

pub async fn delete(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let test = ctx.test(id).await?;
    ctx.state.store.delete_test(id).await?;
    audit(&ctx, "test.delete", &test).await?;
    Ok(no_content())
}
