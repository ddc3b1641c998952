// Latency percentiles per agent and target: the 50th, 90th and 99th percentile of the
// runs' mean round-trip time (ping.rtt_avg_ms) over the time range, one row per agent,
// test and target, worst p99 first. `exact_selector` returns a measured value, as
// InfluxQL's percentile() does. For the percentiles within one run use the fields
// rtt_p50_ms / rtt_p90_ms / rtt_p99_ms instead.
//
// Parameters (flux/README.md, "Parameters"): v.bucket, v.timeRangeStart, v.timeRangeStop.
option v = {bucket: "streamswarm", timeRangeStart: -7d, timeRangeStop: now()}

rtt =
    from(bucket: v.bucket)
        |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
        |> filter(fn: (r) => r._measurement == "ping" and r._field == "rtt_avg_ms")
        |> group(columns: ["agent", "test", "target"])

percentile = (q, name) =>
    rtt
        |> quantile(q: q, method: "exact_selector")
        |> set(key: "percentile", value: name)

union(
    tables: [
        percentile(q: 0.5, name: "p50"),
        percentile(q: 0.9, name: "p90"),
        percentile(q: 0.99, name: "p99"),
    ],
)
    |> pivot(rowKey: ["agent", "test", "target"], columnKey: ["percentile"], valueColumn: "_value")
    |> group()
    |> sort(columns: ["p99"], desc: true)
