// Health as the analytics process wrote it (measurement `health`): per agent, and per
// agent and test, the worst level of each window (0 healthy, 1 degraded, 2 failing) and
// the most open insights. Points without a `test` tag are the agent as a whole; their
// `test` column is empty.
//
// Parameters: v.bucket, v.timeRangeStart, v.timeRangeStop, v.windowPeriod.
option v = {bucket: "streamswarm", timeRangeStart: -1d, timeRangeStop: now(), windowPeriod: 1h}

from(bucket: v.bucket)
    |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
    |> filter(
        fn: (r) =>
            r._measurement == "health" and (r._field == "level" or r._field == "open_insights"),
    )
    |> group(columns: ["agent", "test", "_field"])
    |> aggregateWindow(every: v.windowPeriod, fn: max, createEmpty: false, timeSrc: "_start")
    |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
