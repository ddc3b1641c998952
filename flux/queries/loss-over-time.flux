// Packet loss over time per agent and target: for each window, 100 × (sent − received) /
// sent over the window's runs. Weighting by the echo requests sent keeps a window whose
// runs sent few packets from counting as much as one whose runs sent many (the mean of
// the runs' loss_percent would). Windows where nothing was sent are left out.
//
// Parameters: v.bucket, v.timeRangeStart, v.timeRangeStop, v.windowPeriod.
option v = {bucket: "streamswarm", timeRangeStart: -1d, timeRangeStop: now(), windowPeriod: 1h}

from(bucket: v.bucket)
    |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
    |> filter(
        fn: (r) => r._measurement == "ping" and (r._field == "sent" or r._field == "received"),
    )
    |> group(columns: ["agent", "test", "target", "_field"])
    |> aggregateWindow(every: v.windowPeriod, fn: sum, createEmpty: false, timeSrc: "_start")
    |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
    |> filter(fn: (r) => r.sent > 0)
    |> map(
        fn: (r) =>
            ({
                _time: r._time,
                agent: r.agent,
                test: r.test,
                target: r.target,
                sent: r.sent,
                received: r.received,
                loss_percent: 100.0 * float(v: r.sent - r.received) / float(v: r.sent),
            }),
    )
