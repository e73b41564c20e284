//! Man pages and shell completions, generated from the very clap definitions the binary
//! parses its command line with, so that they cannot drift from it (`kith generate-docs
//! DIR`, hidden; deploy/build-debs.sh puts them in the package).

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::Path;

/// Writes `DIR/man/kith*.1` (one page per command) and `DIR/completions/` for bash, zsh
/// and fish.
pub fn write(dir: &Path) -> std::io::Result<()> {
    let (man, completions) = (dir.join("man"), dir.join("completions"));
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let mut cmd = crate::args::Cli::command();
    clap_mangen::generate_to(cmd.clone(), &man)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd, "kith", &completions)?;
    }
    Ok(())
}
