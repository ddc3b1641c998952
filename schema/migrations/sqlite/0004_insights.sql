-- StreamSwarm metadata store, version 4 (sqlite): analytics insights, leases and the
-- analytics process's state. The analytics process reads the time series, raises an
-- insight when it finds something (a latency shift, a loss burst, a trend…) and
-- resolves it when the series is back to normal; the API and the UI read them, and the
-- health of agents, tests and targets is computed from the open ones at read time.
-- Times are Unix milliseconds.

-- One finding. `fingerprint` names what and where ("latency|ping.rtt_avg_ms|target|
-- test=3|target=10.0.3.1") and is stable across restarts: while an insight is open,
-- the process updates it instead of opening another (the partial unique index below).
-- `agent_ids` is a JSON array of the agents that see it, `evidence` a JSON object (the
-- series, the window, the change, notes).
CREATE TABLE insights (
    id                  INTEGER PRIMARY KEY,
    fingerprint         TEXT NOT NULL,
    kind                TEXT NOT NULL,
    metric              TEXT NOT NULL,
    scope               TEXT NOT NULL CHECK (scope IN ('pair', 'target', 'agent')),
    test_id             BIGINT REFERENCES tests (id) ON DELETE CASCADE,
    target              TEXT,
    agent_ids           TEXT NOT NULL,
    agents_total        BIGINT NOT NULL,
    severity            TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
    state               TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    started_at          BIGINT NOT NULL,
    detected_at         BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    resolved_at         BIGINT,
    expected            DOUBLE PRECISION,
    observed            DOUBLE PRECISION,
    unit                TEXT NOT NULL,
    summary             TEXT NOT NULL,
    evidence            TEXT NOT NULL,
    CHECK ((state = 'open') = (resolved_at IS NULL))
);
-- At most one open insight per fingerprint; resolved ones accumulate.
CREATE UNIQUE INDEX insights_open_fingerprint ON insights (fingerprint) WHERE state = 'open';
CREATE INDEX insights_by_state ON insights (state, started_at);
CREATE INDEX insights_by_test ON insights (test_id, started_at);

-- Named leases: one analytics process at a time holds "analytics" (taken and renewed
-- with an expiry, so a crashed holder's lease lapses).
CREATE TABLE leases (
    name                TEXT PRIMARY KEY,
    holder              TEXT NOT NULL,
    expires_at          BIGINT NOT NULL
);

-- The analytics process's own state (read positions, model state as JSON), by key.
CREATE TABLE analytics_state (
    key                 TEXT PRIMARY KEY,
    value               TEXT NOT NULL
);
