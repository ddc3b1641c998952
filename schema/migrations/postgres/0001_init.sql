-- StreamSwarm metadata store, version 1 (PostgreSQL).
-- Times are Unix milliseconds; JSON documents are TEXT validated by the server.

CREATE TABLE users (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    last_login_at       BIGINT
);

CREATE TABLE sessions (
    id_hash             TEXT PRIMARY KEY,
    user_id             BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    source_ip           TEXT,
    user_agent          TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE agents (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                TEXT NOT NULL,
    hostname            TEXT NOT NULL,
    version             TEXT,
    facts               TEXT NOT NULL DEFAULT '{}',
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT,
    revoked_at          BIGINT
);

CREATE TABLE agent_groups (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    description         TEXT NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL
);

CREATE TABLE agent_group_members (
    agent_id            BIGINT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    group_id            BIGINT NOT NULL REFERENCES agent_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (agent_id, group_id)
);

CREATE TABLE api_tokens (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                TEXT NOT NULL CHECK (kind IN ('enrol', 'api', 'agent')),
    name                TEXT NOT NULL,
    prefix              TEXT NOT NULL,
    secret_hash         TEXT NOT NULL UNIQUE,
    role                TEXT CHECK (role IN ('admin', 'operator', 'viewer')),
    agent_id            BIGINT REFERENCES agents (id) ON DELETE CASCADE,
    created_by          BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT,
    uses_remaining      BIGINT CHECK (uses_remaining >= 0),
    last_used_at        BIGINT,
    revoked_at          BIGINT
);

CREATE TABLE tests (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    kind                TEXT NOT NULL,
    target              TEXT NOT NULL,
    params              TEXT NOT NULL,
    interval_ms         BIGINT NOT NULL CHECK (interval_ms > 0),
    jitter_ms           BIGINT NOT NULL CHECK (jitter_ms >= 0),
    start_at            BIGINT,
    end_at              BIGINT,
    one_shot            BOOLEAN NOT NULL DEFAULT FALSE,
    enabled             BOOLEAN NOT NULL DEFAULT TRUE,
    created_by          BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    CHECK (end_at IS NULL OR start_at IS NULL OR end_at > start_at)
);

CREATE TABLE test_assignments (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    test_id             BIGINT NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    agent_id            BIGINT REFERENCES agents (id) ON DELETE CASCADE,
    group_id            BIGINT REFERENCES agent_groups (id) ON DELETE CASCADE,
    CHECK ((agent_id IS NULL) <> (group_id IS NULL)),
    UNIQUE (test_id, agent_id),
    UNIQUE (test_id, group_id)
);
CREATE INDEX test_assignments_agent ON test_assignments (agent_id);
CREATE INDEX test_assignments_group ON test_assignments (group_id);

CREATE TABLE settings (
    key                 TEXT PRIMARY KEY,
    value               TEXT NOT NULL,
    updated_at          BIGINT NOT NULL,
    updated_by          BIGINT REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE audit_log (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at                  BIGINT NOT NULL,
    actor               TEXT NOT NULL,
    action              TEXT NOT NULL,
    target              TEXT NOT NULL DEFAULT '',
    source_ip           TEXT,
    details             TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action_target ON audit_log (action, target, at);
CREATE INDEX audit_log_action_source ON audit_log (action, source_ip, at);
