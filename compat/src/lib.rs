//! Nothing here: see tests/previous_api.rs.
