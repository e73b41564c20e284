//! Names the source commit in `kith --version` (the relay's `build/commit.rs`).

include!("../server/build/commit.rs");
