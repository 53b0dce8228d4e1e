-- Comments and staff moderation.

-- The post's author may close its comments: nothing new, no edits; deleting
-- stays possible.
ALTER TABLE posts ADD COLUMN comments_closed boolean NOT NULL DEFAULT false;

CREATE TABLE comments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id      bigint      NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    author_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The source (a Markdown subset) and its sanitised rendering, made once
    -- on write like a post's.
    content      text        NOT NULL CHECK (char_length(content) BETWEEN 1 AND 5000),
    content_html text        NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
-- A post's comments, oldest first: a keyset scan, the same cost at any depth
-- however many comments a post has.
CREATE INDEX comments_post_created_at_id_idx ON comments (post_id, created_at, id);
-- Deleting an account deletes its comments (the cascade looks them up here).
CREATE INDEX comments_author_id_idx ON comments (author_id);

-- How many comments each post has, kept by the trigger below, so that a list
-- of posts shows its counts with one primary-key probe per post instead of
-- counting thousands of rows. A table of its own rather than a column of
-- `posts`: an update of a post row recomputes its search vector (V6) and
-- rewrites its indexes, a cost every comment would pay.
CREATE TABLE comment_counts (
    post_id  bigint  PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    comments integer NOT NULL CHECK (comments >= 0)
);

CREATE FUNCTION comment_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO comment_counts AS n (post_id, comments)
            SELECT post_id, count(*) FROM new_rows GROUP BY post_id
        ON CONFLICT (post_id) DO UPDATE SET comments = n.comments + EXCLUDED.comments;
    ELSE
        -- A post being deleted takes its count row with it; updating the
        -- row of a post that is going away changes nothing.
        UPDATE comment_counts n SET comments = n.comments - d.gone
            FROM (SELECT post_id, count(*) AS gone FROM old_rows GROUP BY post_id) d
            WHERE n.post_id = d.post_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER comments_counted_on_insert
    AFTER INSERT ON comments REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION comment_counts_follow();
CREATE TRIGGER comments_counted_on_delete
    AFTER DELETE ON comments REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION comment_counts_follow();

-- Every staff action: who, what, on what, when, and why. Kept when the
-- moderator's account is deleted (the username is copied) and when the
-- target is (the description is copied).
CREATE TABLE moderation_actions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    moderator_id bigint REFERENCES users (id) ON DELETE SET NULL,
    moderator    text        NOT NULL,
    action       text        NOT NULL CHECK (action IN
                     ('unpublish_post', 'delete_comment', 'deactivate_account', 'reactivate_account')),
    target_id    bigint      NOT NULL,
    target       text        NOT NULL,
    reason       text        NOT NULL DEFAULT '' CHECK (char_length(reason) <= 500),
    at           timestamptz NOT NULL
);
CREATE INDEX moderation_actions_at_id_idx ON moderation_actions (at DESC, id DESC);
