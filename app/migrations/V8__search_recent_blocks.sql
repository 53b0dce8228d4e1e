-- Search reads the newest posts first (`SEARCH` in posts/repository.rs): a GIN
-- index on the words and on blocks of 4096 ids, so that "these words among the
-- newest N posts" reads only those blocks' part of each word's posting list
-- instead of all of it (at 1M posts a common word's list is most of the cost).
-- It also serves plain `search @@ query`, so it replaces V6's index.
-- btree_gin (PostgreSQL contrib, trusted since 13: the database's owner may
-- create it) gives GIN the bigint operator class. A role that does not own the
-- database needs an administrator to run `CREATE EXTENSION btree_gin` first.
-- Building the index blocks writes to `posts` for its duration (about a minute
-- at 1M posts on 2 cores).
CREATE EXTENSION IF NOT EXISTS btree_gin;
-- fastupdate off: no pending list. The window is `(id >> 12) = ANY (blocks)`,
-- which GIN runs as one scan per block, and each scan would read the whole
-- pending list of recent inserts (measured at 1M posts after 20,000 new ones:
-- 209 ms instead of 13 ms). A post's insert updates the index at once
-- instead; posts are written rarely next to how often they are searched.
CREATE INDEX posts_search_blocks_idx ON posts USING GIN (search, (id >> 12))
    WITH (fastupdate = off);
DROP INDEX posts_search_idx;
