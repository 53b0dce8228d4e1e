//! Chart test harness.
