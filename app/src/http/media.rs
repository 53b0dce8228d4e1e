//! Placeholder until the media routes land (owned by the accounts work).

use poem::Route;

pub fn routes() -> Route {
    Route::new()
}
