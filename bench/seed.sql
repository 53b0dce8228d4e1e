-- Bulk seed for bench/run.sh (psql variables: :hash, :target).
-- 100 users `bench1`..`bench100` sharing one real password hash (taken from a
-- user registered through the API, so logging in works), then posts appended
-- until the table holds :target rows, spread over the 100 authors with one
-- minute between consecutive posts (newest last). Idempotent: a second run
-- with the same target inserts nothing.

INSERT INTO users (username, email, password_hash, bio)
SELECT 'bench' || i, 'bench' || i || '@example.com', :'hash', 'Seeded for benchmarks.'
FROM generate_series(1, 100) AS i
ON CONFLICT DO NOTHING;

WITH authors AS (
    SELECT array_agg(id ORDER BY id) AS ids
    FROM users WHERE username ~ '^bench[0-9]+$'
), existing AS (
    SELECT count(*) AS n FROM posts
)
INSERT INTO posts (author_id, title, content, created_at, updated_at, published_at)
SELECT authors.ids[1 + g % array_length(authors.ids, 1)],
       'Benchmark post number ' || g,
       'This post was written by a bulk INSERT so that the benchmarks have a '
         || 'realistic amount of text to move around. It is post ' || g || '.',
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute',
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute',
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute'
FROM authors, existing, generate_series(existing.n + 1, :target) AS g;

VACUUM ANALYZE users;
VACUUM ANALYZE posts;
