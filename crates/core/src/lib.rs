//! Stowage core.
