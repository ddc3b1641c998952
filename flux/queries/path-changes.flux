// Path changes seen by traceroute, per agent, test and target. Result "changes": how
// many runs took a different path from the run before (traceroute.path_hash: equal
// hashes, equal paths) and how many runs there were. Result "paths": each distinct path
// with its hop list (traceroute.path), when it was first and last seen and how many runs
// took it. The server's path tracker keeps the same change events, with hop diffs, for
// GET /api/v1/tests/{id}/paths.
//
// Parameters: v.bucket, v.timeRangeStart, v.timeRangeStop.
option v = {bucket: "streamswarm", timeRangeStart: -7d, timeRangeStop: now()}

runs =
    from(bucket: v.bucket)
        |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
        |> filter(
            fn: (r) =>
                r._measurement == "traceroute" and (r._field == "path_hash" or r._field == "path"),
        )
        |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
        |> filter(fn: (r) => exists r.path_hash)
        |> group(columns: ["agent", "test", "target"])
        |> sort(columns: ["_time"])

runs
    |> reduce(
        identity: {previous: "", changes: -1, runs: 0},
        fn: (r, accumulator) =>
            ({
                previous: r.path_hash,
                changes:
                    if r.path_hash == accumulator.previous then
                        accumulator.changes
                    else
                        accumulator.changes + 1,
                runs: accumulator.runs + 1,
            }),
    )
    |> drop(columns: ["previous"])
    |> yield(name: "changes")

runs
    |> group(
        columns: [
            "agent",
            "test",
            "target",
            "path_hash",
            "path",
        ],
    )
    |> reduce(
        identity: {runs: 0, first_ns: 0, last_ns: 0},
        fn: (r, accumulator) =>
            ({
                runs: accumulator.runs + 1,
                first_ns: if accumulator.runs == 0 then int(v: r._time) else accumulator.first_ns,
                last_ns: int(v: r._time),
            }),
    )
    |> map(
        fn: (r) =>
            ({
                agent: r.agent,
                test: r.test,
                target: r.target,
                path_hash: r.path_hash,
                path: r.path,
                runs: r.runs,
                first_seen: time(v: r.first_ns),
                last_seen: time(v: r.last_ns),
            }),
    )
    |> group(columns: ["agent", "test", "target"])
    |> sort(columns: ["first_seen"])
    |> yield(name: "paths")
