//! What the analytics process reads: per test kind, the measurement, its latency-like
//! key field (scored against the forecast) and, where the kind counts trials, the
//! fields of trials and successes (scored as binomial loss). Field names are the
//! schema's (`schema/kinds/<kind>.toml`).

/// One kind's series as the analytics see them.
#[derive(Debug, PartialEq, Eq)]
pub struct Source {
    pub measurement: &'static str,
    /// The latency-like field, in ms.
    pub latency_field: &'static str,
    /// What the latency field is called in sentences.
    pub latency_label: &'static str,
    /// (trials, successes) fields, summed per minute.
    pub trials: Option<(&'static str, &'static str)>,
}

pub const SOURCES: [Source; 4] = [
    Source {
        measurement: "ping",
        latency_field: "rtt_avg_ms",
        latency_label: "RTT",
        trials: Some(("sent", "received")),
    },
    Source {
        measurement: "dns",
        latency_field: "resolution_time_ms",
        latency_label: "DNS resolution time",
        trials: None,
    },
    Source {
        measurement: "tcp",
        latency_field: "connect_time_ms",
        latency_label: "TCP connect time",
        trials: None,
    },
    Source {
        measurement: "http",
        latency_field: "total_ms",
        latency_label: "HTTP total time",
        trials: None,
    },
];

/// The source of `measurement`.
pub fn get(measurement: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.measurement == measurement)
}

impl Source {
    /// `measurement.field` of the latency field (the `metric` tag of findings).
    pub fn latency_metric(&self) -> String {
        format!("{}.{}", self.measurement, self.latency_field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamswarm_schema::measurements;

    #[test]
    fn every_source_names_fields_the_schema_declares() {
        for s in &SOURCES {
            let m = measurements::find(s.measurement).expect(s.measurement);
            assert!(m.field(s.latency_field).is_some(), "{}", s.latency_metric());
            assert!(s.latency_field.ends_with("_ms"));
            if let Some((trials, ok)) = s.trials {
                assert!(m.field(trials).is_some() && m.field(ok).is_some());
                assert!(
                    m.field("loss_percent").is_some(),
                    "loss metric of {}",
                    s.measurement
                );
            }
        }
    }
}
