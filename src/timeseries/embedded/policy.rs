//! Who may write what: the write policy of one request.
//!
//! | caller | measurements, tags, fields | `agent` tag | `test` tag | new series |
//! |---|---|---|---|---|
//! | API token, operator role or above | free-form (importers, analytics findings) | any | any | no cap |
//! | agent credential | as `schema/measurements.toml` says (`check_point`: known measurement, tags and fields, field types, closed tag values, required tags and fields) | its own id, in decimal | a test assigned to it (directly or through a group, disabled ones included) | at most `timeseries.max_series_per_agent` series tagged with its id |
//!
//! A line an agent may not write **refuses the whole batch** with 400 and the line's
//! number, like any bad line, rather than having its tag rewritten: a forged or
//! mistaken point is never stored under an identity it did not state, and the agent
//! (which counts a 400 as `rejected`) and its operator see why. The real agent writes
//! exactly its own id and its assigned tests' ids (the schema tests of its probes pin
//! the shape), so it is never refused for that. Points of a test that was unassigned or
//! deleted while they waited in the agent's spool are still taken into series the agent
//! already has (same measurement and tags): a refusal would drop the whole batch, other
//! tests' points included, and such a point forges nothing. Only a new series needs the
//! test to be assigned now. Nothing of a refused batch is stored; what is stored
//! already does not change.

use super::ingest::{Point, WriteError, excerpt, type_of};
use super::storage::Catalog;
use std::collections::HashSet;
use streamswarm_schema::measurements::{self, tag_defs};

/// What one write request may store.
#[derive(Debug, Clone)]
pub enum WritePolicy {
    /// Any measurement, tag and field (operator API tokens).
    FreeForm,
    /// An agent's own credential.
    Agent(AgentScope),
}

/// What an agent credential may write.
#[derive(Debug, Clone)]
pub struct AgentScope {
    /// The agent's id as its points spell it (decimal).
    agent: String,
    /// The ids of the tests assigned to it, as their points spell them.
    tests: HashSet<String>,
    /// The most series tagged with this agent the store may hold.
    pub max_series: usize,
}

impl AgentScope {
    pub fn new(agent_id: i64, tests: impl IntoIterator<Item = i64>, max_series: usize) -> Self {
        AgentScope {
            agent: agent_id.to_string(),
            tests: tests.into_iter().map(|t| t.to_string()).collect(),
            max_series,
        }
    }

    /// The `agent` tag value of this agent's points.
    pub fn agent_tag(&self) -> &str {
        &self.agent
    }
}

fn refuse(line: usize, reason: &'static str, message: String) -> WriteError {
    WriteError::Refused {
        line,
        reason,
        message,
    }
}

impl WritePolicy {
    /// The agent whose series count against the cap, and the cap.
    pub fn series_cap(&self) -> Option<(&str, usize)> {
        match self {
            WritePolicy::FreeForm => None,
            WritePolicy::Agent(scope) => Some((scope.agent.as_str(), scope.max_series)),
        }
    }

    /// The first point the caller may not write, as the batch's error. `stored` is the
    /// store's catalog: a point of a test no longer assigned still goes into a series
    /// the agent already has (see [`AgentScope`]).
    pub fn check(&self, points: &[Point<'_>], stored: &Catalog) -> Result<(), WriteError> {
        let WritePolicy::Agent(scope) = self else {
            return Ok(());
        };
        points.iter().try_for_each(|p| scope.check(p, stored))
    }
}

impl AgentScope {
    fn check(&self, p: &Point<'_>, stored: &Catalog) -> Result<(), WriteError> {
        let tag = |name: &str| {
            p.tags
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_ref())
        };
        match tag(tag_defs::AGENT.name) {
            Some(v) if v == self.agent => {}
            Some(v) => {
                return Err(refuse(
                    p.line,
                    "agent_tag",
                    format!(
                        "tag agent={:?} is not this credential's agent: an agent writes only \
                         points tagged agent={}",
                        excerpt(v),
                        self.agent
                    ),
                ));
            }
            None => {
                return Err(refuse(
                    p.line,
                    "agent_tag",
                    format!(
                        "a point written with an agent credential carries the tag agent={}",
                        self.agent
                    ),
                ));
            }
        }
        // Analytics findings (`anomaly`, `forecast`, `health`) are the server's to
        // write: an agent must not be able to forge or clear them.
        if let Some(def) = measurements::find(&p.measurement)
            && !def.written_by.starts_with("agent:")
        {
            return Err(refuse(
                p.line,
                "schema",
                format!(
                    "measurement {} is written by the server ({}), not by agents",
                    def.name, def.written_by
                ),
            ));
        }
        if let Some(test) = tag(tag_defs::TEST.name)
            && !self.tests.contains(test)
            && !stored.has_series(
                &p.measurement,
                p.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
            )
        {
            return Err(refuse(
                p.line,
                "test_tag",
                format!(
                    "tag test={:?} is not a test assigned to agent {}",
                    excerpt(test),
                    self.agent
                ),
            ));
        }
        measurements::check_point(
            &p.measurement,
            p.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
            p.fields.iter().map(|(k, v)| (k.as_ref(), type_of(v))),
        )
        .map_err(|violations| {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            refuse(
                p.line,
                "schema",
                excerpt_message(&format!(
                    "{} (agent credentials write only what the schema lists)",
                    list.join("; ")
                )),
            )
        })
    }
}

/// Violations quote names from the request: keep the message bounded.
fn excerpt_message(m: &str) -> String {
    const MAX: usize = 1_000;
    if m.chars().count() <= MAX {
        m.to_owned()
    } else {
        let mut s: String = m.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeseries::embedded::ingest::{Precision, parse_batch};

    fn scope() -> WritePolicy {
        WritePolicy::Agent(AgentScope::new(2, [7, 9], 100))
    }

    fn check(body: &str) -> Result<(), WriteError> {
        let points = parse_batch(body, Precision::Nanoseconds, 1, |_, _| None).unwrap();
        scope().check(&points, &Catalog::default())
    }

    fn refused(body: &str) -> (usize, &'static str, String) {
        match check(body).unwrap_err() {
            WriteError::Refused {
                line,
                reason,
                message,
            } => (line, reason, message),
            other => panic!("{body}: {other}"),
        }
    }

    const PING: &str = "sent=3i,received=3i,duplicates=0i";

    #[test]
    fn an_agents_own_schema_points_pass() {
        check(&format!(
            "ping,agent=2,test=7,target=x {PING} 1\nhost_cpu,agent=2,cpu=total usage_percent=1 1\n\
             agent_drops,agent=2,reason=rejected points_total=0i 1"
        ))
        .unwrap();
    }

    #[test]
    fn other_agents_missing_agents_unassigned_tests_and_schema_departures_are_named() {
        let cases = [
            (
                format!("ping,agent=1,test=7,target=x {PING} 1"),
                "agent_tag",
                "agent=\"1\"",
            ),
            (
                "host_system,agent==HYPERLINK(\"x\") load1=1 1".to_owned(),
                "agent_tag",
                "HYPERLINK",
            ),
            (
                "host_cpu,cpu=total usage_percent=1 1".to_owned(),
                "agent_tag",
                "agent=2",
            ),
            (
                format!("ping,agent=2,test=8,target=x {PING} 1"),
                "test_tag",
                "test=\"8\"",
            ),
            (
                format!("ping,agent=2,test=07,target=x {PING} 1"),
                "test_tag",
                "test=\"07\"",
            ),
            (
                "evil,agent=2 v=1 1".to_owned(),
                "schema",
                "measurement `evil`",
            ),
            (
                "host_cpu,agent=2,cpu=total usage_percent=1,x=1 1".to_owned(),
                "schema",
                "no field `x`",
            ),
            (
                "host_system,agent=2 load1=1i 1".to_owned(),
                "schema",
                "is float in the schema, not integer",
            ),
            (
                "host_cpu,agent=2,cpu=total,extra=1 usage_percent=1 1".to_owned(),
                "schema",
                "no tag `extra`",
            ),
            (
                "agent_drops,agent=2,reason=made_up points_total=0i 1".to_owned(),
                "schema",
                "made_up",
            ),
        ];
        for (body, reason, needle) in cases {
            let body = format!("host_cpu,agent=2,cpu=total usage_percent=1 1\n{body}");
            let (line, got, message) = refused(&body);
            assert_eq!((line, got), (2, reason), "{body}: {message}");
            assert!(message.contains(needle), "{body}: {message}");
        }
    }

    #[test]
    fn agents_cannot_write_analytics_findings() {
        let (line, reason, message) =
            refused("health,agent=2 level=0i,open_insights=0i 1700000000000000000");
        assert_eq!((line, reason), (1, "schema"));
        assert!(message.contains("written by the server"), "{message}");
    }

    #[test]
    fn free_form_takes_anything() {
        let points = parse_batch(
            "anything,agent=1 v=1 1",
            Precision::Nanoseconds,
            1,
            |_, _| None,
        )
        .unwrap();
        WritePolicy::FreeForm
            .check(&points, &Catalog::default())
            .unwrap();
    }
}
