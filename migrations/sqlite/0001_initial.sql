-- nodefit server schema, SQLite dialect. migrations/postgres/0001_initial.sql is the same
-- schema in PostgreSQL's words; the server's queries are shared, so the two must stay
-- equivalent. Times are Unix milliseconds (BIGINT) so that one set of queries serves both.

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'author', 'publisher', 'admin')),
    -- SHA-256 (hex) of the token; the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

-- One-time facts about the database, e.g. that the first admin token was created.
CREATE TABLE server_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE snapshots (
    -- AUTOINCREMENT: an id is never reused, so a stale link never shows another node.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node_name TEXT,
    format TEXT NOT NULL,
    -- "sha256:<hex>" of the canonical `nfd export features` JSON: identical features are
    -- stored once.
    content_hash TEXT NOT NULL UNIQUE,
    feature_count BIGINT NOT NULL,
    -- The labels as a JSON object, for reading; snapshot_labels holds the same for filtering.
    labels TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    -- Last: SQLite reads a row's columns in order, and this one spills to overflow pages.
    features TEXT NOT NULL
);
CREATE INDEX snapshots_node_name ON snapshots (node_name);

CREATE TABLE snapshot_labels (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, key)
);
CREATE INDEX snapshot_labels_key_value ON snapshot_labels (key, value, snapshot_id);

CREATE TABLE specs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    latest_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE spec_versions (
    spec_id BIGINT NOT NULL REFERENCES specs (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (spec_id, version)
);

-- What publish attached where. No foreign key to specs: a publication describes an artifact
-- that stays in its registry when the spec is deleted here.
CREATE TABLE publications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    spec_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    registry TEXT NOT NULL,
    image TEXT NOT NULL,
    image_digest TEXT NOT NULL,
    artifact_digest TEXT NOT NULL,
    signature_digest TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    -- Publishing the same spec version to the same image again finds this row instead of
    -- attaching twice.
    UNIQUE (spec_id, version, registry, image_digest)
);
CREATE INDEX publications_spec ON publications (spec_id, created_at);
