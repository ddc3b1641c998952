// Anomalies the analytics process found (measurement `anomaly`): result "points" lists
// each anomalous point with what was observed and expected, its score and its insight,
// highest score first; result "insights" sums them up per insight: how many points, the
// highest score, the first and the last point. The insight itself (cause sentence,
// state) is in the server: GET /api/v1/insights/{insight_id}.
//
// Parameters: v.bucket, v.timeRangeStart, v.timeRangeStop.
option v = {bucket: "streamswarm", timeRangeStart: -7d, timeRangeStop: now()}

// Scores below this are left out (robust z-score for latency, -log10 p for loss).
minScore = 0.0

anomalies =
    from(bucket: v.bucket)
        |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
        |> filter(fn: (r) => r._measurement == "anomaly")
        |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
        |> filter(fn: (r) => r.score >= minScore)
        |> keep(
            columns: [
                "_time",
                "agent",
                "test",
                "target",
                "metric",
                "scope",
                "observed",
                "expected",
                "score",
                "insight_id",
            ],
        )

anomalies
    |> group()
    |> sort(columns: ["score"], desc: true)
    |> yield(name: "points")

anomalies
    |> group(columns: ["insight_id", "metric", "scope"])
    |> reduce(
        identity: {points: 0, max_score: 0.0, first_ns: 0, last_ns: 0},
        fn: (r, accumulator) =>
            ({
                points: accumulator.points + 1,
                max_score:
                    if r.score > accumulator.max_score then r.score else accumulator.max_score,
                first_ns:
                    if accumulator.points == 0 or int(v: r._time) < accumulator.first_ns then
                        int(v: r._time)
                    else
                        accumulator.first_ns,
                last_ns:
                    if int(v: r._time) > accumulator.last_ns then
                        int(v: r._time)
                    else
                        accumulator.last_ns,
            }),
    )
    |> map(
        fn: (r) =>
            ({
                insight_id: r.insight_id,
                metric: r.metric,
                scope: r.scope,
                points: r.points,
                max_score: r.max_score,
                first: time(v: r.first_ns),
                last: time(v: r.last_ns),
            }),
    )
    |> group()
    |> sort(columns: ["max_score"], desc: true)
    |> yield(name: "insights")
