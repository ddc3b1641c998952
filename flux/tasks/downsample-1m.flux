// InfluxDB 2 task: 1-minute rollups of every numeric field, as the embedded store keeps
// them (src/timeseries/embedded/rollup.rs: count, sum, min, max per series, field and
// minute; the mean is written too, so that readers need not divide). Every minute it
// recomputes the last `lookback` complete minutes from the raw points and writes them to
// `destination`: a point that arrives late (an agent's spool drained after an outage) is
// folded into its minute on the next runs, and rewriting a minute replaces it (same
// series, field and time), so nothing is counted twice. Points later than `lookback`
// reach only the raw bucket, as in the embedded store.
//
// Each rollup keeps the measurement and the tags of its series; its fields are named
// <aggregate>_<field>: mean_rtt_avg_ms, min_rtt_avg_ms, max_rtt_avg_ms, count_rtt_avg_ms,
// sum_rtt_avg_ms — the names InfluxDB 1.x gives to `SELECT mean(*), min(*), …` in a
// continuous query, so a rollup reads the same on both. Times are the minute's start.
// String and boolean fields (errors, addresses, paths) are not rolled up.
//
// Create: influx task create --org <org> -f flux/tasks/downsample-1m.flux
import "date"
import "types"

option task = {name: "streamswarm-downsample-1m", every: 1m, offset: 10s}

source = "streamswarm"
destination = "streamswarm_1m"
lookback = 5m

stop = date.truncate(t: now(), unit: 1m)
start = date.sub(d: lookback, from: stop)

raw =
    from(bucket: source)
        |> range(start: start, stop: stop)
        |> filter(fn: (r) => types.isNumeric(v: r._value))

rollup = (tables=<-, fn, name) =>
    tables
        |> aggregateWindow(every: 1m, fn: fn, createEmpty: false, timeSrc: "_start")
        |> map(fn: (r) => ({r with _field: name + "_" + r._field}))

union(
    tables: [
        raw |> rollup(fn: mean, name: "mean"),
        raw |> rollup(fn: min, name: "min"),
        raw |> rollup(fn: max, name: "max"),
        raw |> rollup(fn: count, name: "count"),
        raw |> rollup(fn: sum, name: "sum"),
    ],
)
    |> to(bucket: destination)
