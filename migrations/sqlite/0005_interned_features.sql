-- Snapshots are stored as the server holds the fleet in memory: each feature's value (one
-- name's flag, attribute and instance sets) once in feature_values, and per snapshot the ids
-- of its values, so that the database grows with what differs between nodes and a server
-- starting up reads each distinct value once. GET /api/v1/snapshots/{id} rebuilds the
-- canonical `nfd export features` JSON from them; content_hash stays its SHA-256.

CREATE TABLE feature_values (
    -- AUTOINCREMENT: an id is never reused, so a server holding a collected value by its id
    -- can never take a new value for it.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- SHA-256 of the name as a JSON string followed by the value's canonical JSON: equal
    -- values under one name are one row.
    hash BLOB NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- {"attributes": ..., "flags": ..., "instances": ...}, each set as `nfd export features`
    -- writes it, absent kinds left out.
    value TEXT NOT NULL
);

-- Every write that changes what the fleet holds (a snapshot added, relabelled or deleted),
-- in commit order: each server process applies the changes past the last it saw before it
-- answers from its copy of the fleet.
CREATE TABLE fleet_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    snapshot_id BIGINT NOT NULL
);

-- Snapshots stored before this migration keep their features JSON here until the server
-- converts them at start-up (in Rust: SQL cannot split the JSON into values); empty after.
CREATE TABLE snapshot_backfill (
    snapshot_id BIGINT PRIMARY KEY REFERENCES snapshots (id) ON DELETE CASCADE,
    features TEXT NOT NULL
);
INSERT INTO snapshot_backfill (snapshot_id, features) SELECT id, features FROM snapshots;

-- The snapshot's value ids, ascending, each as the difference to the one before in LEB128;
-- NULL until the snapshot is converted.
ALTER TABLE snapshots ADD COLUMN value_ids BLOB;
ALTER TABLE snapshots DROP COLUMN features;
