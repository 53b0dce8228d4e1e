//! Placeholder until the accounts routes land (owned by the accounts work).

use poem_openapi::OpenApi;

pub struct AccountsApi;

#[OpenApi]
impl AccountsApi {}
