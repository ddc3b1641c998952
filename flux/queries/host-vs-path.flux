// The agent's host beside its paths: per agent and window, the mean round-trip time and
// loss over all its ping targets, next to its whole-machine CPU use (host_cpu,
// cpu = "total") and its interfaces' receive and transmit errors (host_net). Result
// "joined" is the table; result "correlation" is the Pearson correlation of CPU use with
// round-trip time per agent — near 1 says the agent's own load shows up as latency.
//
// Parameters: v.bucket, v.timeRangeStart, v.timeRangeStop, v.windowPeriod.
import "join"

option v = {bucket: "streamswarm", timeRangeStart: -1d, timeRangeStop: now(), windowPeriod: 5m}

perWindow = (tables=<-) =>
    tables
        |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false, timeSrc: "_start")
        |> keep(columns: ["_time", "agent", "_field", "_value"])

path =
    from(bucket: v.bucket)
        |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
        |> filter(
            fn: (r) =>
                r._measurement == "ping" and (r._field == "rtt_avg_ms" or r._field
                        ==
                        "loss_percent"),
        )
        |> group(columns: ["agent", "_field"])
        |> perWindow()
        |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")

cpu =
    from(bucket: v.bucket)
        |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
        |> filter(
            fn: (r) =>
                r._measurement == "host_cpu" and r._field == "usage_percent" and r.cpu == "total",
        )
        |> group(columns: ["agent", "_field"])
        |> perWindow()
        |> drop(columns: ["_field"])

netErrors =
    from(bucket: v.bucket)
        |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
        |> filter(
            fn: (r) =>
                r._measurement == "host_net" and (r._field == "rx_errors_per_s" or r._field
                        ==
                        "tx_errors_per_s"),
        )
        |> group(columns: ["agent", "_field"])
        |> perWindow()
        |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")

hostAndPath = join.time(left: path, right: cpu, as: (l, r) => ({l with cpu_percent: r._value}))

join.time(
    left: hostAndPath,
    right: netErrors,
    as: (l, r) => ({l with rx_errors_per_s: r.rx_errors_per_s, tx_errors_per_s: r.tx_errors_per_s}),
)
    |> yield(name: "joined")

pearsonr(
    x: cpu,
    y: path |> map(fn: (r) => ({_time: r._time, agent: r.agent, _value: r.rtt_avg_ms})),
    on: ["_time", "agent"],
)
    |> yield(name: "correlation")
