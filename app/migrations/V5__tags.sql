-- Tags. A tag is its slug (normalised by `posts::tags`: case, Unicode NFKC,
-- spacing), shared by every post that carries it.
CREATE TABLE tags (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug text NOT NULL UNIQUE CHECK (char_length(slug) BETWEEN 1 AND 50)
);

-- At most 10 per post (the service's rule, checked before writing).
CREATE TABLE post_tags (
    post_id      bigint   NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag_id       bigint   NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    -- The order the writer gave them in.
    position     smallint NOT NULL CHECK (position BETWEEN 0 AND 9),
    -- The post's `published_at`, copied (and kept equal by the trigger
    -- below), so that a tag's page is a keyset scan of one index, like the
    -- other lists, instead of a sort of all the tag's posts.
    published_at timestamptz,
    PRIMARY KEY (post_id, tag_id)
);
-- A tag's public posts, newest first: `published_at <= now` is the bound.
CREATE INDEX post_tags_tag_published_at_idx ON post_tags (tag_id, published_at DESC, post_id DESC)
    WHERE published_at IS NOT NULL;

CREATE FUNCTION post_tags_follow_publication() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE post_tags SET published_at = NEW.published_at WHERE post_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER posts_publication_to_tags
    AFTER UPDATE OF published_at ON posts
    FOR EACH ROW WHEN (OLD.published_at IS DISTINCT FROM NEW.published_at)
    EXECUTE FUNCTION post_tags_follow_publication();

