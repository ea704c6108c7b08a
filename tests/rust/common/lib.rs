//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The repository root (the workspace that holds `crates/` and `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where the real MNIST files are: `$DLKIT_DATASETS` if set, else `../shared/datasets`
/// beside the repository, as on the development machines and in CI.
pub fn datasets_dir() -> PathBuf {
    match std::env::var_os("DLKIT_DATASETS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                repo_root().join(dir)
            }
        }
        None => repo_root().join("../shared/datasets"),
    }
}
