// The analytics process's forecast band (measurement `forecast`, metric
// ping.rtt_avg_ms) beside what the agents measured: per agent, test and target and per
// minute, the measured mean round-trip time with the band's expected, lower and upper
// values, and whether the measurement fell outside the band.
//
// Parameters: v.bucket, v.timeRangeStart, v.timeRangeStop.
import "join"

option v = {bucket: "streamswarm", timeRangeStart: -1d, timeRangeStop: now()}

band =
    from(bucket: v.bucket)
        |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
        |> filter(fn: (r) => r._measurement == "forecast" and r.metric == "ping.rtt_avg_ms")
        |> filter(fn: (r) => r._field == "expected" or r._field == "lower" or r._field == "upper")
        |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
        |> group(columns: ["agent", "test", "target"])
        |> keep(
            columns: [
                "_time",
                "agent",
                "test",
                "target",
                "expected",
                "lower",
                "upper",
            ],
        )

measured =
    from(bucket: v.bucket)
        |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
        |> filter(fn: (r) => r._measurement == "ping" and r._field == "rtt_avg_ms")
        |> group(columns: ["agent", "test", "target"])
        |> aggregateWindow(every: 1m, fn: mean, createEmpty: false, timeSrc: "_start")
        |> keep(
            columns: [
                "_time",
                "agent",
                "test",
                "target",
                "_value",
            ],
        )

join.time(
    left: measured,
    right: band,
    as: (l, r) =>
        ({
            _time: l._time,
            agent: l.agent,
            test: l.test,
            target: l.target,
            measured: l._value,
            expected: r.expected,
            lower: r.lower,
            upper: r.upper,
            outside: l._value < r.lower or l._value > r.upper,
        }),
)
