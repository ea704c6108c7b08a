//! Refuses to rebuild this library while a running notebook kernel has the
//! previous build loaded.
//!
//! A process keeps the copy of a shared library it loaded first: a cell
//! compiled against a rebuilt dlkit would be linked, in the running kernel,
//! against the old code, with no error and possibly mismatched types. So when
//! dlkit's sources change and a live process maps the `libdlkit_dylib` of this
//! build directory, the library does not compile, with a message that says to
//! restart the kernel. (Linux: read from /proc; elsewhere nothing is checked.)

use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo::rustc-check-cfg=cfg(dlkit_loaded_by_a_running_kernel)");
    // Re-run when dlkit or this crate changes, not on every build.
    println!(
        "cargo::rerun-if-changed={}",
        manifest_dir.join("../dlkit/src").display()
    );
    println!(
        "cargo::rerun-if-changed={}",
        manifest_dir.join("../dlkit/Cargo.toml").display()
    );
    println!(
        "cargo::rerun-if-changed={}",
        manifest_dir.join("src").display()
    );
    println!("cargo::rerun-if-changed=build.rs");

    let Some(profile_dir) = profile_dir() else {
        return;
    };
    if let Some(pid) = process_mapping_this_build(&profile_dir) {
        // A compile error (src/lib.rs) rather than a failing build script:
        // evcxr shows compiler errors as they are, and build-script output
        // buried in cargo's JSON.
        println!("cargo::rustc-cfg=dlkit_loaded_by_a_running_kernel");
        println!("cargo::rustc-env=DLKIT_LOADED_BY_PID={pid}");
        // Look again once that process has ended (the file is gone then). A
        // file, not the /proc/<pid> directory: cargo would walk that whole tree.
        println!("cargo::rerun-if-changed=/proc/{pid}/cmdline");
    }
}

/// `target/<triple>/<profile>`, where cargo puts the shared library: OUT_DIR is
/// `<that>/build/dlkit-dylib-<hash>/out`.
fn profile_dir() -> Option<PathBuf> {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR")?);
    Some(out_dir.ancestors().nth(3)?.to_path_buf())
}

/// A live process that has this build directory's libdlkit_dylib mapped.
fn process_mapping_this_build(profile_dir: &Path) -> Option<u32> {
    let prefix = profile_dir.to_string_lossy().into_owned();
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // Unreadable maps (other users' processes, a process that just ended) are skipped.
        let Ok(maps) = std::fs::read_to_string(entry.path().join("maps")) else {
            continue;
        };
        let mapped = maps.lines().any(|line| {
            line.split_whitespace()
                .last()
                .is_some_and(|path| path.starts_with(&prefix) && path.contains("libdlkit_dylib"))
        });
        if mapped {
            return Some(pid);
        }
    }
    None
}
