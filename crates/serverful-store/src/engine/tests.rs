//! Engine unit tests over the in-memory backend.
