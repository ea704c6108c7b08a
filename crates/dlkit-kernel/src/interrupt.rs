//! evcxr_jupyter started beside this process, and Jupyter's interrupt routed
//! to the one process that runs the notebook's cells.
//!
//! The kernelspec asks Jupyter for `interrupt_mode: signal`: an interrupt is
//! SIGINT for the kernel's whole process group. evcxr_jupyter, cargo and rustc
//! must survive it, so evcxr_jupyter starts with SIGINT ignored, which every
//! process it starts inherits. The process that runs the cells (evcxr marks it
//! with `EVCXR_IS_RUNTIME`) is one of them:
//!
//! * once dlkit-dylib is loaded there, its handler takes the group's SIGINT
//!   (a running `fit` stops after its batch), and this process does nothing;
//! * before that, the process ignores SIGINT, and this process ends it with
//!   SIGTERM, as evcxr's own interrupt would; evcxr starts a new one.
//!
//! This process becomes evcxr_jupyter (`exec`), so that Jupyter waits for,
//! signals and kills the kernel itself; a small forked child of it, the
//! router, takes the group's SIGINT and does the above. The router dies with
//! the kernel (`PR_SET_PDEATHSIG`).

use std::ffi::OsStr;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::log;

/// Forks the router, then replaces this process with evcxr_jupyter; returns
/// only if either fails.
pub fn exec_evcxr(
    evcxr_jupyter: &Path,
    connection_file: &Path,
    env: &[(&str, &OsStr)],
    lock_fd: RawFd,
) -> String {
    // Blocked before the fork, so that no interrupt between the fork and the
    // router's sigwait can end the router.
    let interrupt = signal_set(&[libc::SIGINT]);
    // SAFETY: a valid set; this process has one thread.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &interrupt, std::ptr::null_mut()) };
    let kernel = std::process::id() as libc::pid_t;
    // SAFETY: the process is single-threaded, so the child may run any code.
    match unsafe { libc::fork() } {
        -1 => return format!("cannot fork: {}", std::io::Error::last_os_error()),
        0 => route(interrupt, kernel),
        _ => {}
    }
    // An ignored signal stays ignored through exec, in evcxr_jupyter and in
    // every process it starts; the slot's lock goes with them.
    // SAFETY: plain calls on this process's own signal state and descriptor.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        let empty = signal_set(&[]);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::fcntl(lock_fd, libc::F_SETFD, 0);
    }
    let error = Command::new(evcxr_jupyter)
        .arg("--control_file")
        .arg(connection_file)
        .envs(env.iter().copied())
        .exec();
    format!("cannot start {}: {error}", evcxr_jupyter.display())
}

/// The router: waits for interrupts and passes each on, until the kernel ends.
fn route(interrupt: libc::sigset_t, kernel: libc::pid_t) -> ! {
    // SAFETY: prctl and getppid on this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != kernel {
            libc::_exit(0); // the kernel ended before the line above
        }
    }
    loop {
        let mut signal = 0;
        // SAFETY: `interrupt` is a valid set, `signal` a valid place to write.
        if unsafe { libc::sigwait(&interrupt, &mut signal) } == 0 {
            interrupt_cells(kernel);
        }
    }
}

/// Ends the process that runs the cells if it ignores the interrupt (see the
/// module's text); one that handles SIGINT got the group's signal itself.
fn interrupt_cells(evcxr: libc::pid_t) {
    for pid in descendants(evcxr) {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if !environ
            .split(|&b| b == 0)
            .any(|var| var.starts_with(b"EVCXR_IS_RUNTIME="))
        {
            continue;
        }
        if handles_sigint(pid) {
            log(&format!(
                "interrupt: the process running the cells ({pid}) handles SIGINT itself"
            ));
        } else {
            log(&format!(
                "interrupt: SIGTERM to the process running the cells ({pid}), which ignores SIGINT"
            ));
            // SAFETY: a signal to a descendant found just now.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
}

/// Whether `pid` has a handler for SIGINT (its `SigCgt` mask in /proc).
fn handles_sigint(pid: libc::pid_t) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (libc::SIGINT - 1)) != 0)
}

/// Every process below `root` in the process tree, from /proc.
fn descendants(root: libc::pid_t) -> Vec<libc::pid_t> {
    let parents: Vec<(libc::pid_t, libc::pid_t)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect();
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        next += 1;
    }
    found.remove(0);
    found
}

/// The parent of `pid`: the field after the command name in /proc/PID/stat
/// (the name is in parentheses and may itself hold spaces or parentheses).
fn parent_of(pid: libc::pid_t) -> Option<libc::pid_t> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

fn signal_set(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset uses it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}
