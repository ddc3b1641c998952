// SLO compliance per calendar month, per agent, test and target. A ping run is good
// when a reply came back (received > 0) with a mean round-trip time within
// `latencyObjectiveMs`; a month complies when at least `objective` percent of its runs
// were good. `error_budget_left_percent` is the share of the month's allowed bad runs
// not yet used (negative: the budget is spent).
//
// Parameters: v.bucket, v.timeRangeStart, v.timeRangeStop (a year by default).
option v = {bucket: "streamswarm", timeRangeStart: -365d, timeRangeStop: now()}

objective = 99.5
latencyObjectiveMs = 100.0

from(bucket: v.bucket)
    |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
    |> filter(
        fn: (r) =>
            r._measurement == "ping" and (r._field == "received" or r._field == "rtt_avg_ms"),
    )
    |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
    |> map(
        fn: (r) =>
            ({r with _value:
                    if r.received > 0 and exists r.rtt_avg_ms and r.rtt_avg_ms <= latencyObjectiveMs
                    then
                        100.0
                    else
                        0.0,
            }),
    )
    |> group(columns: ["agent", "test", "target"])
    |> aggregateWindow(every: 1mo, fn: mean, createEmpty: false, timeSrc: "_start")
    |> map(
        fn: (r) =>
            ({
                month: r._time,
                agent: r.agent,
                test: r.test,
                target: r.target,
                good_percent: r._value,
                compliant: r._value >= objective,
                error_budget_left_percent: 100.0 * (r._value - objective) / (100.0 - objective),
            }),
    )
