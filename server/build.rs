//! Names the source commit in `kith-relay --version` (`build/commit.rs`).

include!("build/commit.rs");
