//! End-to-end tests: the real service over HTTP against real Postgres, Redis, S3 and SMTP
//! (containers, see the crate docs). One binary (zero2prod's `tests/api` layout) so the
//! dependencies start once and the app is linked once.

mod accounts;
mod api_contract;
mod auth_challenge;
mod avatars;
mod bad_input;
mod comments;
mod conditional;
mod cors;
mod django_import;
mod harness;
mod login_timing;
mod moderation;
mod password_reset;
mod posts;
mod publishing;
mod python_client;
mod rate_limits;
mod replicas;
mod resilience;
mod search;
mod shutdown;
mod site;
mod story;
mod tags;
mod text_fields;
