//! The seccomp policy. PLACEHOLDER; the implementation is being written.
