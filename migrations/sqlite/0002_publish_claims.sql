-- A publish in progress. A second request for the same publication (a client retrying while
-- the first is still attaching, on this server or another one on the same database) waits for
-- it instead of attaching a second artifact. A claim older than its lease belonged to a
-- server that stopped mid-publish and is taken over.
CREATE TABLE publish_claims (
    spec_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    registry TEXT NOT NULL,
    image_digest TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (spec_id, version, registry, image_digest)
);
