//! `GET /api/v1/tests/{id}/grafana` — a Grafana dashboard for one test, ready to import
//! (Dashboards → New → Import): its kind's panels ([`crate::grafana::kind_dashboard`])
//! with the `test` variable fixed to the test and the `agent` / `target` variables
//! listing that test's. Panels read any InfluxDB datasource, chosen by its `datasource`
//! variable.

use crate::error::Result;
use crate::http::Ctx;
use warp::reply::Response;

pub async fn test_dashboard(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let test = ctx.test(id).await?;
    let dashboard = crate::grafana::test_dashboard(test.spec.kind, id, &test.name);
    let mut resp = crate::http::routes::ok(&dashboard)?;
    // A browser saves it as a file to import.
    resp.headers_mut().insert(
        warp::http::header::CONTENT_DISPOSITION,
        warp::http::HeaderValue::from_str(&format!(
            "attachment; filename=\"streamswarm-test-{id}.json\""
        ))
        .expect("an ASCII header value"),
    );
    Ok(resp)
}
