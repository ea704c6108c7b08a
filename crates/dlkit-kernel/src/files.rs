//! Small file operations the kernel's start needs, with errors that name the path.

use std::path::Path;

pub fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Copies `from` to `to` unless they are equal; through a rename, so a kernel
/// starting beside this one never reads half a file.
pub fn install_if_changed(from: &Path, to: &Path) -> Result<(), String> {
    let new = std::fs::read(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    if std::fs::read(to).is_ok_and(|old| old == new) {
        return Ok(());
    }
    write_atomically(to, &new)
}

/// Writes `bytes` to a temporary name beside `to`, then renames it over `to`.
pub fn write_atomically(to: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut temporary = to.as_os_str().to_owned();
    temporary.push(format!(".tmp.{}", std::process::id()));
    let temporary = Path::new(&temporary);
    std::fs::write(temporary, bytes)
        .and_then(|()| std::fs::rename(temporary, to))
        .map_err(|e| {
            let _ = std::fs::remove_file(temporary);
            format!("cannot write {}: {e}", to.display())
        })
}
