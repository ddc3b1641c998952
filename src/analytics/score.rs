//! Scoring detectors against the labelled evaluation set ([`super::eval`]): per
//! incident kind, recall, mean detection delay and whether the scope was named right;
//! overall, precision and F1. The rules are fixed here, before any detector is tuned,
//! so a detector cannot choose how it is judged.
//!
//! - A **finding** names the series it saw change, the scope it attributes the change
//!   to, and when the change started (when the detector first said so: `detected_s`).
//! - A finding **matches** an incident when they share a series and the finding was
//!   raised while the incident was on or within [`GRACE_S`] after its end (`detected_s`
//!   in `[start, end + grace]`). A finding matching no incident is a false positive;
//!   benign blips are not incidents.
//! - An incident is **found** when at least one finding matches it. Its detection delay
//!   is the earliest matching finding's `detected_s − start`. Its scope is **right** when
//!   some matching finding names exactly the incident's scope (pair; target; agent).
//! - Precision = matched findings / findings; recall = found incidents / incidents.
//! - A false finding has no incident, so no kind: precision **per kind** is the precision
//!   of the findings naming the scope class the kind's incidents have (pair, target,
//!   agent — [`ScopeClass`]), and the kind's F1 combines it with the kind's recall.

use super::eval::{EvalSet, IncidentKind, Scope};
use serde::Serialize;
use std::collections::BTreeMap;

/// A finding raised up to this long after an incident's end still counts as its own
/// (a detector that needs a few points to be sure).
pub const GRACE_S: i64 = 10 * 60;

/// What a detector reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The (agent, target) series that changed.
    pub series: Vec<(usize, usize)>,
    pub scope: Scope,
    /// When the detector raised it (Unix seconds of the point that made it sure).
    pub detected_s: i64,
}

/// Which of the three scopes a finding or an incident names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeClass {
    Pair,
    Target,
    Agent,
}

impl ScopeClass {
    pub fn of(scope: &Scope) -> ScopeClass {
        match scope {
            Scope::Pair { .. } => ScopeClass::Pair,
            Scope::Target { .. } => ScopeClass::Target,
            Scope::Agent { .. } => ScopeClass::Agent,
        }
    }
}

/// The findings naming one scope class.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClassScore {
    pub findings: usize,
    pub matched: usize,
    pub precision: f64,
}

/// The score of one incident kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindScore {
    pub incidents: usize,
    pub found: usize,
    pub recall: f64,
    /// The precision of the findings naming this kind's scope class ([`ScopeClass`]),
    /// and the F1 of that precision with this kind's recall; `None` when no finding
    /// names that scope.
    pub precision: Option<f64>,
    pub f1: Option<f64>,
    /// Mean over found incidents, in minutes; `None` when none was found.
    pub mean_delay_min: Option<f64>,
    /// Of the found incidents, those whose scope was named right.
    pub scope_right: usize,
}

/// The whole score.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    pub findings: usize,
    pub matched_findings: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub mean_delay_min: Option<f64>,
    /// Found incidents with the scope named right / found incidents.
    pub scope_accuracy: Option<f64>,
    pub per_kind: BTreeMap<IncidentKind, KindScore>,
    pub per_class: BTreeMap<ScopeClass, ClassScore>,
}

/// Scores `findings` against the set's labels.
pub fn score(set: &EvalSet, findings: &[Finding]) -> Score {
    let matches = |f: &Finding, i: &super::eval::Incident| {
        f.detected_s >= i.start_s
            && f.detected_s <= i.end_s + GRACE_S
            && f.series.iter().any(|s| i.series.contains(s))
    };
    let mut per_class: BTreeMap<ScopeClass, ClassScore> = BTreeMap::new();
    for f in findings {
        let c = per_class.entry(ScopeClass::of(&f.scope)).or_default();
        c.findings += 1;
        if set.incidents.iter().any(|i| matches(f, i)) {
            c.matched += 1;
        }
    }
    for c in per_class.values_mut() {
        c.precision = ratio(c.matched, c.findings);
    }
    let matched_findings = per_class.values().map(|c| c.matched).sum();
    // The scope class of each kind's incidents (one per kind in the set).
    let kind_class: BTreeMap<IncidentKind, ScopeClass> = set
        .incidents
        .iter()
        .map(|i| (i.kind, ScopeClass::of(&i.scope)))
        .collect();
    let mut per_kind: BTreeMap<IncidentKind, KindScore> = BTreeMap::new();
    let mut delays = Vec::new();
    let (mut found_all, mut scope_all) = (0, 0);
    let mut kind_delays: BTreeMap<IncidentKind, Vec<f64>> = BTreeMap::new();
    for i in &set.incidents {
        let k = per_kind.entry(i.kind).or_default();
        k.incidents += 1;
        let mine: Vec<&Finding> = findings.iter().filter(|f| matches(f, i)).collect();
        let Some(first) = mine.iter().map(|f| f.detected_s).min() else {
            continue;
        };
        k.found += 1;
        found_all += 1;
        let delay = (first - i.start_s) as f64 / 60.0;
        delays.push(delay);
        kind_delays.entry(i.kind).or_default().push(delay);
        if mine.iter().any(|f| f.scope == i.scope) {
            k.scope_right += 1;
            scope_all += 1;
        }
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    for (kind, k) in per_kind.iter_mut() {
        k.recall = ratio(k.found, k.incidents);
        k.mean_delay_min = kind_delays.get(kind).and_then(|d| mean(d));
        k.precision = kind_class
            .get(kind)
            .and_then(|c| per_class.get(c))
            .map(|c| c.precision);
        k.f1 = k.precision.map(|p| f1(p, k.recall));
    }
    let precision = if findings.is_empty() {
        0.0
    } else {
        ratio(matched_findings, findings.len())
    };
    let recall = ratio(found_all, set.incidents.len());
    Score {
        findings: findings.len(),
        matched_findings,
        precision,
        recall,
        f1: f1(precision, recall),
        mean_delay_min: mean(&delays),
        scope_accuracy: (found_all > 0).then(|| ratio(scope_all, found_all)),
        per_kind,
        per_class,
    }
}

fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::eval::{EvalConfig, generate};

    fn set() -> EvalSet {
        generate(&EvalConfig {
            agents: 3,
            targets: 3,
            days: 9,
            training_days: 7,
            incidents_per_kind: 2,
            ..EvalConfig::default()
        })
    }

    /// The oracle: one finding per incident, at its start, with its scope.
    fn oracle(set: &EvalSet, delay_s: i64) -> Vec<Finding> {
        set.incidents
            .iter()
            .map(|i| Finding {
                series: i.series.clone(),
                scope: i.scope.clone(),
                detected_s: i.start_s + delay_s,
            })
            .collect()
    }

    #[test]
    fn the_oracle_scores_perfectly_with_its_delay() {
        let set = set();
        let s = score(&set, &oracle(&set, 120));
        assert_eq!((s.precision, s.recall, s.f1), (1.0, 1.0, 1.0));
        assert_eq!(s.mean_delay_min, Some(2.0));
        assert_eq!(s.scope_accuracy, Some(1.0));
        assert_eq!(s.per_kind.len(), IncidentKind::ALL.len());
        assert!(
            s.per_kind
                .values()
                .all(|k| k.recall == 1.0 && k.scope_right == k.found)
        );
    }

    #[test]
    fn nothing_found_scores_zero_and_false_alarms_cost_precision() {
        let set = set();
        let s = score(&set, &[]);
        assert_eq!((s.precision, s.recall, s.f1), (0.0, 0.0, 0.0));
        assert_eq!(s.mean_delay_min, None);
        // One false alarm per incident, in the incident-free training days: precision
        // halves.
        let mut findings = oracle(&set, 0);
        findings.extend(set.incidents.iter().map(|i| Finding {
            series: i.series.clone(),
            scope: i.scope.clone(),
            detected_s: set.config.start_s + 3_600,
        }));
        let s = score(&set, &findings);
        assert_eq!(s.precision, 0.5);
        assert_eq!(s.recall, 1.0);
    }

    #[test]
    fn a_false_alarm_costs_the_precision_of_the_kinds_with_its_scope_only() {
        let set = set();
        let mut findings = oracle(&set, 60);
        findings.push(Finding {
            series: vec![(0, 0), (0, 1), (0, 2)],
            scope: Scope::Agent { agent: 0 },
            detected_s: set.config.start_s + 3_600,
        });
        let s = score(&set, &findings);
        let agent = &s.per_class[&ScopeClass::Agent];
        assert_eq!((agent.findings, agent.matched), (3, 2));
        assert_eq!(s.per_class[&ScopeClass::Pair].precision, 1.0);
        let degraded = &s.per_kind[&IncidentKind::AgentDegraded];
        assert!((degraded.precision.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((degraded.f1.unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(s.per_kind[&IncidentKind::LevelShift].f1, Some(1.0));
        // A detector that never names a target scope has no precision for it.
        let agents_only: Vec<Finding> = oracle(&set, 60)
            .into_iter()
            .map(|f| Finding {
                scope: Scope::Agent { agent: 0 },
                ..f
            })
            .collect();
        let s = score(&set, &agents_only);
        assert_eq!(s.per_kind[&IncidentKind::TargetDegraded].precision, None);
    }

    #[test]
    fn late_findings_and_wrong_series_or_scope_do_not_count_as_right() {
        let set = set();
        let i = &set.incidents[0];
        let late = Finding {
            series: i.series.clone(),
            scope: i.scope.clone(),
            detected_s: i.end_s + GRACE_S + 60,
        };
        let elsewhere = Finding {
            series: vec![(99, 99)],
            scope: i.scope.clone(),
            detected_s: i.start_s,
        };
        let s = score(&set, &[late, elsewhere]);
        assert_eq!(s.matched_findings, 0);
        let wrong_scope = Finding {
            series: i.series.clone(),
            scope: Scope::Agent { agent: 99 },
            detected_s: i.start_s,
        };
        let s = score(&set, &[wrong_scope]);
        assert_eq!(s.per_kind[&i.kind].found, 1);
        assert_eq!(s.per_kind[&i.kind].scope_right, 0);
        assert_eq!(s.scope_accuracy, Some(0.0));
    }
}
