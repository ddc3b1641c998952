// The worst targets over the time range, seen from the whole fleet: the 10 with the
// highest mean loss (result "by_loss") and the 10 with the highest 95th percentile of
// the runs' mean round-trip time (result "by_latency").
//
// Parameters: v.bucket, v.timeRangeStart, v.timeRangeStop.
option v = {bucket: "streamswarm", timeRangeStart: -7d, timeRangeStop: now()}

n = 10

ping =
    from(bucket: v.bucket)
        |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
        |> filter(fn: (r) => r._measurement == "ping")

ping
    |> filter(fn: (r) => r._field == "loss_percent")
    |> group(columns: ["target"])
    |> mean()
    |> group()
    |> top(n: n, columns: ["_value"])
    |> rename(columns: {_value: "mean_loss_percent"})
    |> yield(name: "by_loss")

ping
    |> filter(fn: (r) => r._field == "rtt_avg_ms")
    |> group(columns: ["target"])
    |> quantile(q: 0.95, method: "exact_selector")
    |> group()
    |> top(n: n, columns: ["_value"])
    |> keep(columns: ["target", "_value"])
    |> rename(columns: {_value: "p95_rtt_ms"})
    |> yield(name: "by_latency")
