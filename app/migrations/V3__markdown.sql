-- Posts in Markdown. The source stays in `content`; the sanitised HTML and
-- the excerpt are rendered once, when a post is written, by the service
-- (`posts::markdown`), so reads never render. Posts written before this, and
-- imported ones, are plain text with no stored rendering: escaped on read.
ALTER TABLE posts
    -- `plain`: shown as written (line breaks kept); `markdown`: rendered.
    ADD COLUMN format       text NOT NULL DEFAULT 'plain'
        CHECK (format IN ('plain', 'markdown')),
    -- Empty: not rendered yet (plain text from before); rendered on read.
    ADD COLUMN content_html text NOT NULL DEFAULT '',
    -- The first paragraph as text, at most 300 characters; empty as above.
    ADD COLUMN excerpt      text NOT NULL DEFAULT '';
