//! The faults a notebook session really meets, and what the user sees in each:
//! the kernel killed in the middle of `fit` (Binder's memory limit), the disk
//! full while a model or a checkpoint is written, and two notebooks writing
//! checkpoints into the same folder. In each: a clear message, training that
//! can be resumed, and nothing corrupt on disk.
//!
//! Every fault happens to a child process of this test binary: the test
//! re-runs itself with `--ignored --exact child_does_what_it_is_told` and
//! tells the child in `DLKIT_FAULTS_CHILD` what to do (as in `candle_pool.rs`).
//! Unix only: the faults are made with signals and resource limits.
#![cfg(unix)]

use dlkit::prelude::*;
use dlkit::train::{Control, EpochLogs};
use dlkit_tests::{
    prediction_rows as predictions, quiet_options as options, resumable_model as small_model,
    sorted_file_names as files_in, weight_values as weights,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the child does, and its arguments.
const CHILD: &str = "DLKIT_FAULTS_CHILD";
const DIR: &str = "DLKIT_FAULTS_DIR";
const SEED: &str = "DLKIT_FAULTS_SEED";

/// Epochs of the runs that get killed.
const EPOCHS: usize = 6;

/// Three Gaussian blobs in 8 dimensions (training and validation data).
fn data() -> (Tensor, Tensor, Tensor, Tensor) {
    let (x, y) = dlkit_tests::blobs(300, 6, 0.7);
    let (xv, yv) = dlkit_tests::blobs(90, 7, 0.7);
    (x, y, xv, yv)
}

/// The temporary files of unfinished saves (`.{name}.partial-{pid}-{n}`).
fn partials_in(dir: &Path) -> Vec<String> {
    files_in(dir)
        .into_iter()
        .filter(|n| n.contains(".partial-"))
        .collect()
}

/// The child test, started with `what` to do in `dir`.
fn child(what: &str, dir: &Path, seed: u64) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        "child_does_what_it_is_told",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, what)
    .env(DIR, dir)
    .env(SEED, seed.to_string());
    cmd
}

/// How long a child may take: far more than any of them needs.
const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// Runs `cmd` to its end, within [`CHILD_LIMIT`].
fn run(mut cmd: Command) -> Output {
    finish(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Waits for `child` (started with piped output) to end, at most
/// [`CHILD_LIMIT`]; one that takes longer is killed and fails the test.
fn finish(mut child: Child) -> Output {
    let read = |mut from: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = from.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            let text = String::from_utf8_lossy(&stdout.join().unwrap()).to_string()
                + &String::from_utf8_lossy(&stderr.join().unwrap());
            panic!("the child did not end within {CHILD_LIMIT:?}: {text}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// The child's output, all of it, with a check that it passed.
fn passed(what: &str, out: Output) -> String {
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child {what} failed: {text}");
    assert!(
        text.contains("1 passed"),
        "child {what} did not run: {text}"
    );
    text
}

/// Waits for `path` to exist, at most `limit`.
fn wait_for(path: &Path, limit: Duration, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the child ended ({status}) before {}", path.display());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no {} after {limit:?}", path.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills `child` as the kernel's out-of-memory killer does (SIGKILL: no
/// destructor, no clean-up runs) and reaps it.
fn kill(mut child: Child) {
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status}");
}

/// After the epoch `after` (1-based), writes `marker` and then waits to be
/// killed (for at most a minute).
struct HangAfter {
    after: usize,
    marker: PathBuf,
}

impl Callback for HangAfter {
    fn on_epoch_end(&mut self, logs: &EpochLogs, _model: &Model) -> dlkit::Result<Control> {
        if logs.epoch + 1 == self.after {
            std::fs::write(&self.marker, b"").unwrap();
            std::thread::sleep(Duration::from_secs(60));
            panic!("not killed within a minute");
        }
        Ok(Control::Continue)
    }
}

/// Writes `marker` at the end of the first epoch it sees.
struct MarkStart(PathBuf);

impl Callback for MarkStart {
    fn on_epoch_end(&mut self, _logs: &EpochLogs, _model: &Model) -> dlkit::Result<Control> {
        if !self.0.exists() {
            std::fs::write(&self.0, b"").unwrap();
        }
        Ok(Control::Continue)
    }
}

/// Records the (0-based) epochs that were trained, and what partial files
/// the backup directory holds after each epoch's backup.
#[derive(Clone, Default)]
struct Trained(Arc<Mutex<TrainedEpochs>>);

#[derive(Default)]
struct TrainedEpochs {
    epochs: Vec<usize>,
    partials: Vec<Vec<String>>,
    dir: PathBuf,
}

impl Trained {
    fn watching(dir: &Path) -> Self {
        let t = Trained::default();
        t.0.lock().unwrap().dir = dir.to_path_buf();
        t
    }

    fn epochs(&self) -> Vec<usize> {
        self.0.lock().unwrap().epochs.clone()
    }

    fn partials(&self) -> Vec<Vec<String>> {
        self.0.lock().unwrap().partials.clone()
    }
}

impl Callback for Trained {
    fn on_epoch_end(&mut self, logs: &EpochLogs, _model: &Model) -> dlkit::Result<Control> {
        let mut t = self.0.lock().unwrap();
        t.epochs.push(logs.epoch);
        let partials = partials_in(&t.dir);
        t.partials.push(partials);
        Ok(Control::Continue)
    }
}

// ----------------------------------------------------------------------------
// 1. The kernel killed in the middle of fit.

/// A child trains with a backup, is killed after epoch 2 (as Binder kills a
/// kernel over its memory limit), and a new process that runs the same cell
/// continues with epoch 3 and ends exactly where an uninterrupted run ends.
#[test]
fn a_kernel_killed_in_fit_resumes_from_its_backup_in_a_new_process() {
    let root = tempfile::tempdir().unwrap();
    let marker = root.path().join("ready");
    let mut killed = child("hang_after_2", root.path(), 0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&marker, Duration::from_secs(20), &mut killed);
    kill(killed);
    let backup = root.path().join("backup");
    assert_eq!(files_in(&backup), ["backup.safetensors"]);

    // The new kernel: the same cell, run again.
    let out = run(child("resume", root.path(), 0));
    let text = passed("resume", out);
    assert!(
        text.contains("Resuming from a backup: 2 epoch(s) done, continuing with epoch 3/6"),
        "{text}"
    );
    assert!(!backup.exists(), "a finished run deletes its backup");
}

/// Children killed at random moments, some of them while writing a backup:
/// the next run resumes from the last whole backup (or starts afresh when
/// none was written), ends as the uninterrupted run, and removes the partial
/// files the killed writers left.
#[test]
fn kills_at_random_moments_never_leave_a_backup_that_cannot_be_resumed() {
    let root = tempfile::tempdir().unwrap();
    let backup = root.path().join("backup");
    let start = Instant::now();
    let mut rng = dlkit::rng::Rng::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64,
    );
    let mut kills = 0;
    let mut left_partial = 0;
    for round in 0..8 {
        if start.elapsed() > Duration::from_secs(10) {
            break;
        }
        let marker = root.path().join(format!("started-{round}"));
        let mut victim = child("train_until_killed", root.path(), round)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(&marker, Duration::from_secs(20), &mut victim);
        // Within the next epochs: a backup is written at the end of each.
        std::thread::sleep(Duration::from_micros((rng.uniform(0.0, 30_000.0)) as u64));
        kill(victim);
        kills += 1;
        if !partials_in(&backup).is_empty() {
            left_partial += 1;
        }
        // What a killed run leaves is a whole backup or none, never a
        // truncated one: at most the partial files beside it.
        for name in files_in(&backup) {
            assert!(
                name == "backup.safetensors" || name.contains(".partial-"),
                "{name}"
            );
        }
    }
    // A save killed after writing part of its temporary file, for certain
    // (the random kills above hit a write only sometimes).
    let mut writer = child("die_while_writing", root.path(), 0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        &root.path().join("writing"),
        Duration::from_secs(20),
        &mut writer,
    );
    kill(writer);
    assert!(!partials_in(&backup).is_empty());
    eprintln!("{kills} kills, {left_partial} of them left a partial file");

    let out = run(child("resume_after_kills", root.path(), 0));
    let text = passed("resume_after_kills", out);
    eprintln!(
        "{}",
        text.lines().find(|l| l.contains("resumed")).unwrap_or("")
    );
    assert!(!backup.exists(), "a finished run deletes its backup");
}

// ----------------------------------------------------------------------------
// 2. The disk full.

/// With the file size limited (as a full disk limits it), saving a model
/// over a good file, a checkpoint and a backup in fit are errors that name
/// the file; the earlier files stay whole and load (the backup resumes), and
/// no partial file is left.
#[test]
fn a_full_disk_is_an_error_that_names_the_file_and_keeps_the_good_one() {
    let root = tempfile::tempdir().unwrap();
    let out = run(child("disk_full", root.path(), 0));
    let text = passed("disk_full", out);
    for what in ["save", "checkpoint", "backup"] {
        // The child's lines follow libtest's "test ... " on the first.
        let tag = format!("{what} error: ");
        let line = text
            .lines()
            .find_map(|l| l.split_once(&tag).map(|(_, message)| message))
            .unwrap_or_else(|| panic!("no {what} error in {text}"));
        // What the user sees, e.g. ".../model.safetensors: File too large (os
        // error 27)"; on a full disk, "No space left on device (os error 28)".
        assert!(line.contains(".safetensors: File too large"), "{line}");
    }
}

// ----------------------------------------------------------------------------
// 3. Two notebooks checkpointing into one folder.

/// Two processes train at once with the same ModelCheckpoint pattern: both
/// finish, every file is a whole model of one of the two runs, and no partial
/// file is left.
#[test]
fn two_notebooks_checkpointing_into_one_folder_leave_only_whole_models() {
    let root = tempfile::tempdir().unwrap();
    let shared = root.path().join("ckpt");
    // A third notebook's save in progress (this process is alive): its
    // temporary file must survive the clean-ups of the two runs.
    std::fs::create_dir(&shared).unwrap();
    let live = shared.join(format!(
        ".model-01.safetensors.partial-{}-999",
        std::process::id()
    ));
    std::fs::write(&live, b"half a model").unwrap();
    let mut runs: Vec<Child> = [1u64, 2]
        .iter()
        .map(|&seed| {
            child("checkpoint", root.path(), seed)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Both start training at the same moment, so that their saves overlap.
    for (seed, run) in [1, 2].iter().zip(runs.iter_mut()) {
        wait_for(
            &root.path().join(format!("ready-{seed}")),
            Duration::from_secs(20),
            run,
        );
    }
    std::fs::write(root.path().join("go"), b"").unwrap();
    for run in runs {
        passed("checkpoint", finish(run));
    }
    assert!(live.exists(), "a live writer's temporary file was removed");
    std::fs::remove_file(&live).unwrap();
    let files = files_in(&shared);
    assert_eq!(partials_in(&shared), Vec::<String>::new());
    let (_, _, xv, _) = data();
    assert_eq!(files.len(), CHECKPOINT_EPOCHS, "{files:?}");
    let mut from = [0, 0];
    for name in &files {
        let mut model = dlkit::model::load_model(shared.join(name)).unwrap();
        let got = predictions(&mut model, &xv);
        let own = |seed: u64| {
            let mut m =
                dlkit::model::load_model(root.path().join(format!("own-{seed}")).join(name))
                    .unwrap();
            predictions(&mut m, &xv)
        };
        if got == own(1) {
            from[0] += 1;
        } else {
            assert_eq!(got, own(2), "{name} is a model of neither run");
            from[1] += 1;
        }
    }
    eprintln!("files from run 1: {}, from run 2: {}", from[0], from[1]);
}

const CHECKPOINT_EPOCHS: usize = 12;

// ----------------------------------------------------------------------------
// The child.

#[test]
#[ignore = "run by the tests above in a child process"]
fn child_does_what_it_is_told() {
    let what = std::env::var(CHILD).expect("run by the tests above");
    let root = PathBuf::from(std::env::var(DIR).unwrap());
    let seed: u64 = std::env::var(SEED).unwrap().parse().unwrap();
    let backup = root.join("backup");
    let (x, y, xv, yv) = data();
    match what.as_str() {
        "hang_after_2" => {
            let mut model = small_model(11, 16);
            model
                .fit(
                    &x,
                    &y,
                    options(EPOCHS, &xv, &yv)
                        .callback(BackupAndRestore::new(&backup))
                        .callback(HangAfter {
                            after: 2,
                            marker: root.join("ready"),
                        }),
                )
                .unwrap();
            unreachable!("killed while hanging");
        }
        "resume" => {
            let mut straight = small_model(11, 16);
            let want = straight.fit(&x, &y, options(EPOCHS, &xv, &yv)).unwrap();
            // Another process' model, with other initial weights, as after a
            // kernel restart.
            let mut model = small_model(12345, 16);
            let trained = Trained::watching(&backup);
            let got = model
                .fit(
                    &x,
                    &y,
                    options(EPOCHS, &xv, &yv)
                        .verbose(1)
                        .callback(BackupAndRestore::new(&backup))
                        .callback(trained.clone()),
                )
                .unwrap();
            assert_eq!(
                trained.epochs(),
                [2, 3, 4, 5],
                "only the epochs after the backup"
            );
            assert_eq!(got.loss(), want.loss());
            assert_eq!(got.accuracy(), want.accuracy());
            assert_eq!(got.val_loss(), want.val_loss());
            assert_eq!(got.val_accuracy(), want.val_accuracy());
            assert_eq!(weights(&model), weights(&straight));
        }
        "train_until_killed" => {
            // A wider layer than elsewhere: a backup takes long enough to
            // write that some kills land inside it.
            let mut model = small_model(11, 512);
            let marker = root.join(format!("started-{seed}"));
            let _ = model.fit(
                &x,
                &y,
                options(200, &xv, &yv)
                    .callback(BackupAndRestore::new(&backup))
                    .callback(MarkStart(marker)),
            );
            panic!("should have been killed");
        }
        "die_while_writing" => {
            // What fs::write_atomic leaves when killed inside a write: the
            // first bytes of a temporary file named by this process.
            std::fs::create_dir_all(&backup).unwrap();
            let name = format!(".backup.safetensors.partial-{}-0", std::process::id());
            std::fs::write(backup.join(name), [0u8; 100]).unwrap();
            std::fs::write(root.join("writing"), b"").unwrap();
            std::thread::sleep(Duration::from_secs(60));
            panic!("not killed within a minute");
        }
        "resume_after_kills" => {
            let epochs = 200;
            let mut straight = small_model(11, 512);
            let want = straight.fit(&x, &y, options(epochs, &xv, &yv)).unwrap();
            let mut model = small_model(11, 512);
            let trained = Trained::watching(&backup);
            let got = model
                .fit(
                    &x,
                    &y,
                    options(epochs, &xv, &yv)
                        .callback(BackupAndRestore::new(&backup))
                        .callback(trained.clone()),
                )
                .unwrap();
            println!(
                "resumed after {} epoch(s) of the killed runs",
                trained.epochs().first().copied().unwrap_or(epochs)
            );
            assert_eq!(
                trained.partials().first(),
                Some(&Vec::new()),
                "the first save removes the partial files of killed writers"
            );
            assert_eq!(got.loss(), want.loss());
            assert_eq!(got.val_accuracy(), want.val_accuracy());
            assert_eq!(weights(&model), weights(&straight));
        }
        "disk_full" => disk_full(&root, &x, &y, &xv, &yv),
        "checkpoint" => {
            let mut model = small_model(seed, 512);
            std::fs::write(root.join(format!("ready-{seed}")), b"").unwrap();
            let start = Instant::now();
            while !root.join("go").exists() {
                assert!(start.elapsed() < Duration::from_secs(20), "no go");
                std::thread::sleep(Duration::from_millis(1));
            }
            model
                .fit(
                    &x,
                    &y,
                    options(CHECKPOINT_EPOCHS, &xv, &yv)
                        .callback(ModelCheckpoint::new(
                            root.join("ckpt/model-{epoch:02d}.safetensors"),
                        ))
                        .callback(ModelCheckpoint::new(
                            root.join(format!("own-{seed}/model-{{epoch:02d}}.safetensors")),
                        )),
                )
                .unwrap();
        }
        other => panic!("unknown child task {other}"),
    }
}

/// Limits the size of the files this process writes to `bytes`, and makes a
/// write past it fail with EFBIG instead of killing the process.
fn limit_file_size(bytes: libc::rlim_t) {
    // SAFETY: plain system calls on this process' own settings.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut limit: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
        limit.rlim_cur = bytes;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

/// Limits the file size to `bytes` at the end of epoch `.0` (1-based): the
/// disk is full from then on.
struct FillDiskAfter(usize, libc::rlim_t);

impl Callback for FillDiskAfter {
    fn on_epoch_end(&mut self, logs: &EpochLogs, _model: &Model) -> dlkit::Result<Control> {
        if logs.epoch + 1 == self.0 {
            limit_file_size(self.1);
        }
        Ok(Control::Continue)
    }
}

/// The weights at the end of every epoch.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Vec<Vec<f32>>>>>);

impl Recorder {
    fn epochs(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn last(&self) -> Vec<Vec<f32>> {
        self.0.lock().unwrap().last().unwrap().clone()
    }
}

impl Callback for Recorder {
    fn on_epoch_end(&mut self, _logs: &EpochLogs, model: &Model) -> dlkit::Result<Control> {
        self.0.lock().unwrap().push(weights(model));
        Ok(Control::Continue)
    }
}

/// The disk-full child: prints each error as "{what} error: {message}".
fn disk_full(root: &Path, x: &Tensor, y: &Tensor, xv: &Tensor, yv: &Tensor) {
    let models = root.join("models");
    let good = models.join("model.safetensors");
    let mut model = small_model(1, 64);
    model.fit(x, y, options(2, xv, yv)).unwrap();
    model.save(&good).unwrap();
    let want = predictions(&mut model, xv);
    let size = std::fs::metadata(&good).unwrap().len();
    let no_room = size / 2;

    limit_file_size(no_room);
    // The model trained further, saved over the good file.
    model.fit(x, y, options(1, xv, yv)).unwrap();
    let err = model.save(&good).unwrap_err();
    println!("save error: {err}");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&good.display().to_string()),
        "{err}"
    );
    assert_eq!(files_in(&models), ["model.safetensors"], "no partial file");
    let mut reloaded = dlkit::model::load_model(&good).unwrap();
    assert_eq!(
        predictions(&mut reloaded, xv),
        want,
        "the good file is intact"
    );

    limit_file_size(libc::RLIM_INFINITY);

    // The disk fills up after the first epoch's checkpoint: fit ends with
    // the error in epoch 2, and the file still holds the model of epoch 1.
    let ckpt = root.join("ckpt");
    let mut fresh = small_model(2, 64);
    let seen = Recorder::default();
    let err = fresh
        .fit(
            x,
            y,
            options(3, xv, yv)
                .callback(ModelCheckpoint::new(ckpt.join("latest.safetensors")))
                .callback(seen.clone())
                .callback(FillDiskAfter(1, no_room)),
        )
        .unwrap_err();
    limit_file_size(libc::RLIM_INFINITY);
    println!("checkpoint error: {err}");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("latest.safetensors"), "{err}");
    assert_eq!(seen.epochs(), 1, "fit stopped at the failed save");
    assert_eq!(files_in(&ckpt), ["latest.safetensors"], "no partial file");
    let epoch_1 = dlkit::model::load_model(ckpt.join("latest.safetensors")).unwrap();
    assert_eq!(weights(&epoch_1), seen.last());

    // The same with a backup: the error ends fit, the backup of epoch 1 is
    // whole, and with room again the same cell continues from it and ends as
    // an uninterrupted run.
    let backup = root.join("backup");
    let mut straight = small_model(3, 64);
    let want = straight.fit(x, y, options(3, xv, yv)).unwrap();
    let err = small_model(3, 64)
        .fit(
            x,
            y,
            options(3, xv, yv)
                .callback(BackupAndRestore::new(&backup))
                .callback(FillDiskAfter(1, no_room)),
        )
        .unwrap_err();
    limit_file_size(libc::RLIM_INFINITY);
    println!("backup error: {err}");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("backup.safetensors"), "{err}");
    assert_eq!(files_in(&backup), ["backup.safetensors"], "no partial file");
    let mut resumed = small_model(4, 64);
    let got = resumed
        .fit(
            x,
            y,
            options(3, xv, yv).callback(BackupAndRestore::new(&backup)),
        )
        .unwrap();
    assert_eq!(got.loss(), want.loss());
    assert_eq!(got.val_accuracy(), want.val_accuracy());
    assert_eq!(weights(&resumed), weights(&straight));

    // Room again: the same save works.
    model.save(&good).unwrap();
    assert_eq!(files_in(&models), ["model.safetensors"]);
    let mut reloaded = dlkit::model::load_model(&good).unwrap();
    assert_eq!(predictions(&mut reloaded, xv), predictions(&mut model, xv));
}
