// Agents that disagree with the fleet: per target, each agent's median round-trip time
// against the median of all agents' medians towards that target. An agent is listed
// when it is at least `ratio` times slower than the fleet and at least `minDeltaMs`
// slower in absolute terms (so that 0.2 ms against 0.1 ms on a LAN is not news).
// Most often the agent's own network is the cause, not the target.
//
// Parameters: v.bucket, v.timeRangeStart, v.timeRangeStop.
import "join"

option v = {bucket: "streamswarm", timeRangeStart: -1h, timeRangeStop: now()}

ratio = 1.5
minDeltaMs = 10.0

perAgent =
    from(bucket: v.bucket)
        |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
        |> filter(fn: (r) => r._measurement == "ping" and r._field == "rtt_avg_ms")
        |> group(columns: ["target", "agent"])
        |> median(method: "exact_mean")
        |> group(columns: ["target"])

fleet =
    perAgent
        |> median(method: "exact_mean")
        |> keep(columns: ["target", "_value"])

join.inner(
    left: perAgent |> keep(columns: ["target", "agent", "_value"]),
    right: fleet,
    on: (l, r) => l.target == r.target,
    as: (l, r) =>
        ({
            target: l.target,
            agent: l.agent,
            agent_ms: l._value,
            fleet_ms: r._value,
            ratio: l._value / r._value,
        }),
)
    |> filter(fn: (r) => r.ratio >= ratio and r.agent_ms - r.fleet_ms >= minDeltaMs)
    |> group()
    |> sort(columns: ["ratio"], desc: true)
