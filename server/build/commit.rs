// The build scripts of the relay and the client (both `include!` this file): the source
// commit the binary is built from, for `--version` (`KITH_COMMIT`): `KITH_BUILD_COMMIT`
// when set (a build from an archive, where git knows nothing), else what git says of the
// checkout, else "unknown".

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=KITH_BUILD_COMMIT");
    let commit = std::env::var("KITH_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_head)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KITH_COMMIT={}", commit.trim());
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The checked-out commit, and what to watch so that a new one rebuilds the binary:
/// `HEAD`, the branch it names, and `packed-refs` (where a branch can live too).
fn git_head() -> Option<String> {
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    let dir = std::path::PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    let mut watch = vec![dir.join("HEAD"), dir.join("packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch.push(dir.join(branch));
    }
    // A watched file that does not exist would rerun this script at every build.
    for path in watch.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Some(commit)
}
