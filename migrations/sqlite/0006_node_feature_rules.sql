-- NodeFeatureRule files kept on the server, to see on the stored snapshots which labels,
-- annotations, extended resources and taints nfd-master would apply. Edited in place (no
-- versions): what matters is what the file holds now. The content is kept as written, even
-- when the API server would refuse it, so that work in progress is not lost.
CREATE TABLE node_feature_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    content TEXT NOT NULL,
    -- "sha256:<hex>" of the content.
    content_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
