-- Full-text search. Each post's words, weighted: the title (A) counts more
-- than the body (B); English stemming ("writing" finds "write"). A stored
-- generated column, so it can never disagree with the row, and a GIN index
-- that `search @@ websearch_to_tsquery('english', …)` reads.
ALTER TABLE posts ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A') ||
    setweight(to_tsvector('english', content), 'B')
) STORED;
CREATE INDEX posts_search_idx ON posts USING GIN (search);
