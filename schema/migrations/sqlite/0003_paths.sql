-- StreamSwarm metadata store, version 3 (sqlite): traceroute paths and path changes.
-- The server's path tracker reads the agents' `traceroute` points from the time-series
-- store and keeps, per (agent, test), the last N distinct paths and every change
-- between two successive runs' paths, with the hop diff. Times are Unix milliseconds,
-- except the tracker's positions, which are the time series' nanoseconds.

-- Distinct paths per (agent, test): first/last seen and how many runs took it.
CREATE TABLE paths (
    agent_id            BIGINT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    test_id             BIGINT NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    hash                TEXT NOT NULL,
    path                TEXT NOT NULL,
    first_seen          BIGINT NOT NULL,
    last_seen           BIGINT NOT NULL,
    runs                BIGINT NOT NULL,
    PRIMARY KEY (agent_id, test_id, hash)
);
CREATE INDEX paths_last_seen ON paths (agent_id, test_id, last_seen);

-- A run whose path hash differs from the previous run's: the diff is JSON, one entry
-- per TTL that changed (which addresses left, which appeared).
CREATE TABLE path_changes (
    id                  INTEGER PRIMARY KEY,
    agent_id            BIGINT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    test_id             BIGINT NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    at                  BIGINT NOT NULL,
    old_hash            TEXT NOT NULL,
    new_hash            TEXT NOT NULL,
    old_path            TEXT NOT NULL,
    new_path            TEXT NOT NULL,
    diff                TEXT NOT NULL
);
CREATE INDEX path_changes_by_test ON path_changes (test_id, agent_id, at);

-- Where the tracker is per (agent, test): the newest run it has taken in (time-series
-- nanoseconds) and that run's path.
CREATE TABLE path_state (
    agent_id            BIGINT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    test_id             BIGINT NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    last_time_ns        BIGINT NOT NULL,
    hash                TEXT NOT NULL,
    path                TEXT NOT NULL,
    PRIMARY KEY (agent_id, test_id)
);

-- How far the tracker has read the time series (nanoseconds), so a restart goes on
-- from there. One row.
CREATE TABLE path_tracker (
    id                  BIGINT PRIMARY KEY CHECK (id = 1),
    scanned_to_ns       BIGINT NOT NULL
);
