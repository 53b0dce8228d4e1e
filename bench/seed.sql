-- Bulk seed for bench/run.sh (psql variables: :hash, :target).
-- 100 users `bench1`..`bench100` sharing one real password hash (taken from a
-- user registered through the API, so logging in works), then posts appended
-- until the table holds :target rows, spread over the 100 authors with one
-- minute between consecutive posts (newest last). Idempotent: a second run
-- with the same target inserts nothing.

-- No parallel workers (queries, VACUUM): their shared memory (a container's /dev/shm is 64 MiB by
-- default) is not enough for the 1M-post joins below, and the seed is one-off.
SET max_parallel_workers_per_gather = 0;
SET max_parallel_maintenance_workers = 0;

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
       -- 30 words of a 900-word vocabulary (two syllables each), the first
       -- syllable skewed so that some words are common and most are rare,
       -- as in text: a search has realistic numbers of matches to rank.
       -- The words depend on `g` only, so a re-run seeds the same text.
       'This post was written by a bulk INSERT so that the benchmarks have a '
         || 'realistic amount of text to move around. It is post ' || g || '. '
         || (SELECT string_agg(
                (ARRAY['ka','lo','mi','ne','ru','sa','to','vi','da','fe','go','hu','ja','ki','le',
                       'mo','nu','pa','qui','re','si','tu','va','we','xo','yu','za','bo','ce','di'])
                  [1 + floor(30 * power(((hashint4((g * 31 + k)::int) & 1048575) / 1048576.0), 2))::int]
                || (ARRAY['ban','cor','dex','fim','gal','hop','jun','kel','lum','mar','nol','pid',
                          'qar','ros','sul','tam','ven','wix','yel','zor','bel','cun','dor','fen',
                          'gur','hal','jix','kom','lep','mun'])
                  [1 + ((hashint4((g * 17 + k * 7919)::int) & 1048575) % 30)],
                ' ')
             FROM generate_series(1, 30) AS k),
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute',
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute',
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute'
FROM authors, existing, generate_series(existing.n + 1, :target) AS g;

-- 50 tags; each new post carries one to three of them (skewed: `topic1`
-- is on many posts, `topic50` on few), kept in step with publication.
INSERT INTO tags (slug) SELECT 'topic' || i FROM generate_series(1, 50) AS i
ON CONFLICT DO NOTHING;
INSERT INTO post_tags (post_id, tag_id, position, published_at)
SELECT p.id, t.id, (k - 1)::smallint, p.published_at
FROM posts p
CROSS JOIN LATERAL generate_series(1, 1 + p.id % 3) AS k
JOIN tags t ON t.slug = 'topic' || (1 + floor(50 * power(((hashint4((p.id * 13 + k)::int) & 1048575) / 1048576.0), 2))::int)
WHERE NOT EXISTS (SELECT 1 FROM post_tags x WHERE x.post_id = p.id)
ON CONFLICT DO NOTHING;

VACUUM ANALYZE users;
VACUUM ANALYZE posts;
VACUUM ANALYZE tags;
VACUUM ANALYZE post_tags;
