//! The blog service library.
