//! End-to-end tests: the real `serverful` binary driven by real clients.
