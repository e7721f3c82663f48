-- Publications remember detaches: when and by whom an artifact was removed from its image, so
-- that a spec's history no longer shows it as attached. The same spec version may then be
-- published to the same image again, so "one publication per spec version and image digest"
-- holds for the attached ones only. SQLite cannot drop a table's UNIQUE constraint: the table is
-- rebuilt with the same ids (AUTOINCREMENT's counter follows the rename, so ids stay unused).
CREATE TABLE publications_new (
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
    detached_at BIGINT,
    detached_by TEXT
);
INSERT INTO publications_new (id, spec_id, version, registry, image, image_digest,
    artifact_digest, signature_digest, created_at, created_by)
SELECT id, spec_id, version, registry, image, image_digest, artifact_digest, signature_digest,
    created_at, created_by FROM publications;
DROP TABLE publications;
ALTER TABLE publications_new RENAME TO publications;
CREATE INDEX publications_spec ON publications (spec_id, created_at);
CREATE UNIQUE INDEX publications_attached ON publications (spec_id, version, registry, image_digest)
    WHERE detached_at IS NULL;
CREATE INDEX publications_artifact ON publications (registry, artifact_digest);
