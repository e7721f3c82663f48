-- Publications remember detaches: when and by whom an artifact was removed from its image, so
-- that a spec's history no longer shows it as attached. The same spec version may then be
-- published to the same image again, so "one publication per spec version and image digest"
-- holds for the attached ones only.
ALTER TABLE publications ADD COLUMN detached_at BIGINT, ADD COLUMN detached_by TEXT;
ALTER TABLE publications DROP CONSTRAINT publications_spec_id_version_registry_image_digest_key;
CREATE UNIQUE INDEX publications_attached ON publications (spec_id, version, registry, image_digest)
    WHERE detached_at IS NULL;
CREATE INDEX publications_artifact ON publications (registry, artifact_digest);
