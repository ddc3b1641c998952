// InfluxDB 2 task: 1-hour rollups from the 1-minute rollups (downsample-1m.flux), as the
// embedded store computes its hours from its minutes: an hour's count and sum are the
// sums of its minutes' counts and sums, its min the least minute min, its max the
// greatest minute max, and its mean the hour's sum over its count (not the mean of the
// minutes' means, which would weigh a quiet minute like a busy one). Every hour it
// recomputes the last `lookback` complete hours, so minutes rewritten late reach their
// hour. Field names and tags are those of the 1-minute rollups; times are the hour's
// start.
//
// Create: influx task create --org <org> -f flux/tasks/downsample-1h.flux
import "date"
import "strings"

option task = {name: "streamswarm-downsample-1h", every: 1h, offset: 2m}

source = "streamswarm_1m"
destination = "streamswarm_1h"
lookback = 3h

stop = date.truncate(t: now(), unit: 1h)
start = date.sub(d: lookback, from: stop)

minutes =
    from(bucket: source)
        |> range(start: start, stop: stop)

hourly = (tables=<-, aggregate, fn) =>
    tables
        |> filter(fn: (r) => strings.hasPrefix(v: r._field, prefix: aggregate + "_"))
        |> aggregateWindow(every: 1h, fn: fn, createEmpty: false, timeSrc: "_start")

counts = minutes |> hourly(aggregate: "count", fn: sum)
sums = minutes |> hourly(aggregate: "sum", fn: sum)
mins = minutes |> hourly(aggregate: "min", fn: min)
maxs = minutes |> hourly(aggregate: "max", fn: max)

means =
    union(tables: [counts, sums])
        |> map(
            fn: (r) =>
                ({r with aggregate:
                        if strings.hasPrefix(v: r._field, prefix: "count_") then "count" else "sum",
                    _field:
                        strings.trimPrefix(
                            v: strings.trimPrefix(v: r._field, prefix: "count_"),
                            prefix: "sum_",
                        ),
                    _value: float(v: r._value),
                }),
        )
        |> group(columns: ["_time", "_value", "aggregate"], mode: "except")
        |> pivot(rowKey: ["_time"], columnKey: ["aggregate"], valueColumn: "_value")
        |> filter(fn: (r) => r.count > 0.0)
        |> map(fn: (r) => ({r with _field: "mean_" + r._field, _value: r.sum / r.count}))
        |> drop(columns: ["count", "sum"])

union(
    tables: [
        counts,
        sums,
        mins,
        maxs,
        means,
    ],
)
    |> to(bucket: destination)
