-- Token names become unique: publications, spec versions and snapshots record who wrote them by
-- token name, which must then name one token. Where earlier names repeat, the oldest token keeps
-- its name and each later one is renamed `NAME (token ID)`, so that every token still works and
-- `nodefit token list` shows which is which; records written before keep the name as it was.
UPDATE tokens SET name = name || ' (token ' || id || ')'
WHERE EXISTS (SELECT 1 FROM tokens AS older WHERE older.name = tokens.name AND older.id < tokens.id);

CREATE UNIQUE INDEX tokens_name ON tokens (name);
