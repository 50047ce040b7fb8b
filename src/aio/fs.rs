//! Files on the loop, on the default thread pool (being built).
