//! Cross-crate end-to-end tests of profile-toolkit live in `e2e/`; this library is empty.
