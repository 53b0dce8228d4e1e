-- Drafts and scheduled posts. A post is a draft (`published_at` NULL) or
-- published at `published_at`, which may be in the future: readers see it
-- from that instant on, with nothing run at that time (every public read
-- says `published_at <= now`). Until then only its author sees it.
ALTER TABLE posts ADD COLUMN published_at timestamptz;
-- Everything written so far was public from the moment it was written (the
-- Django original's `date_posted` is `created_at`).
UPDATE posts SET published_at = created_at;

-- Where a post sits in its author's own list (drafts included): published
-- posts at their publication, drafts at their last edit, so a draft being
-- worked on stays near the top. Stored so that one index serves the keyset
-- scan `(listed_at, id) < ($1, $2)` of that list.
ALTER TABLE posts ADD COLUMN listed_at timestamptz
    GENERATED ALWAYS AS (coalesce(published_at, updated_at)) STORED;

-- Public lists read newest published first: `published_at <= now` bounds
-- the scan from the start, so scheduled posts are skipped by the index and
-- a page costs the same at any depth. Drafts are not in this index at all.
-- It also answers "the next scheduled publication" (the read cache's
-- expiry) with one index probe.
CREATE INDEX posts_published_at_id_idx ON posts (published_at DESC, id DESC)
    WHERE published_at IS NOT NULL;
-- The same for one author's list as readers see it.
CREATE INDEX posts_author_published_at_id_idx ON posts (author_id, published_at DESC, id DESC)
    WHERE published_at IS NOT NULL;
-- An author's own list, drafts and scheduled posts included.
CREATE INDEX posts_author_listed_at_id_idx ON posts (author_id, listed_at DESC, id DESC);
-- Replaced by the two above: nothing lists posts by creation any more.
DROP INDEX posts_created_at_id_idx;
DROP INDEX posts_author_created_at_id_idx;
