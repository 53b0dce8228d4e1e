-- Accounts and posts moved over from the Django original (`blog import-django`).

-- Django's `is_active`: an inactive account keeps its data but cannot log in.
ALTER TABLE users ADD COLUMN is_active boolean NOT NULL DEFAULT true;
-- Django's `is_staff`/`is_superuser`, kept as data: nothing here grants
-- rights from them yet.
ALTER TABLE users ADD COLUMN is_staff boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN is_superuser boolean NOT NULL DEFAULT false;
-- Django's `last_login`; set on every log-in here too. (`date_joined` is
-- `created_at`.)
ALTER TABLE users ADD COLUMN last_login_at timestamptz;

-- What each imported Django object became here, so that an import can be run
-- again (or resumed) without duplicating anything, and old links
-- (`/post/<django id>/`) find their post. `fingerprint` is a SHA-256 of the
-- Django record as last imported: an unchanged record is left alone, a
-- changed one is updated. No foreign key: `our_id` is a user id for
-- `auth.user` and `users.profile`, a post id for `blog.post`.
CREATE TABLE django_imports (
    model       text        NOT NULL CHECK (model IN ('auth.user', 'users.profile', 'blog.post')),
    django_id   bigint      NOT NULL,
    our_id      bigint      NOT NULL,
    fingerprint bytea       NOT NULL CHECK (octet_length(fingerprint) = 32),
    imported_at timestamptz NOT NULL,
    PRIMARY KEY (model, django_id)
);
CREATE INDEX django_imports_our_id_idx ON django_imports (model, our_id);
