//! ModelCheckpoint and BackupAndRestore: saving while training, and training
//! that continues after an interrupt or a crash as if nothing had happened.

use dlkit::prelude::*;
use dlkit::train::{Control, EpochLogs};
use dlkit_tests::StopAfter;
use dlkit_tests::{
    prediction_rows as predictions, quiet_options as options, resumable_model as small_model,
    sorted_file_names as files_in, weight_values as weights,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// `interrupt::request_stop` reaches every running `fit` of the process, so
/// the tests of this file train one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Three Gaussian blobs in 8 dimensions.
fn blobs(n: usize, seed: u64) -> (Tensor, Tensor) {
    dlkit_tests::blobs(n, seed, 0.7)
}

/// Presses "interrupt" at the end of epoch `n`: `fit` stops after the first
/// batch of the next epoch, as with Jupyter's interrupt button.
struct InterruptAfter(usize);

impl Callback for InterruptAfter {
    fn on_epoch_end(&mut self, logs: &EpochLogs, _model: &Model) -> dlkit::Result<Control> {
        if logs.epoch + 1 == self.0 {
            assert!(dlkit::train::interrupt::request_stop());
        }
        Ok(Control::Continue)
    }
}

/// Keeps a copy of the weights after every epoch.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Vec<Vec<f32>>>>>);

impl Callback for Recorder {
    fn on_epoch_end(&mut self, _logs: &EpochLogs, model: &Model) -> dlkit::Result<Control> {
        self.0.lock().unwrap().push(weights(model));
        Ok(Control::Continue)
    }
}

#[test]
fn saves_every_epoch_under_its_number_and_the_files_load_back() -> dlkit::Result<()> {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = blobs(300, 1);
    let (xv, yv) = blobs(90, 2);
    let mut model = small_model(1, 16);
    model.fit(
        &x,
        &y,
        options(3, &xv, &yv)
            .callback(ModelCheckpoint::new(
                dir.path().join("m-{epoch:02d}.safetensors"),
            ))
            .callback(
                ModelCheckpoint::new(dir.path().join("w-{epoch}.safetensors"))
                    .save_weights_only(true),
            ),
    )?;
    // One file per epoch and nothing else: no temporary files left behind.
    assert_eq!(
        files_in(dir.path()),
        [
            "m-01.safetensors",
            "m-02.safetensors",
            "m-03.safetensors",
            "w-1.safetensors",
            "w-2.safetensors",
            "w-3.safetensors"
        ]
    );
    let want = predictions(&mut model, &xv);
    let mut last = dlkit::model::load_model(dir.path().join("m-03.safetensors"))?;
    assert_eq!(predictions(&mut last, &xv), want);
    let mut first = dlkit::model::load_model(dir.path().join("m-01.safetensors"))?;
    assert_ne!(
        predictions(&mut first, &xv),
        want,
        "each epoch has its own file"
    );

    // Weights only: not a model file, but it loads into the same architecture.
    let err = dlkit::model::load_model(dir.path().join("w-3.safetensors")).unwrap_err();
    assert!(err.to_string().contains("weights only"), "{err}");
    let mut rebuilt = small_model(99, 16);
    assert_ne!(predictions(&mut rebuilt, &xv), want);
    rebuilt.load_weights(dir.path().join("w-3.safetensors"))?;
    assert_eq!(predictions(&mut rebuilt, &xv), want);
    Ok(())
}

#[test]
fn save_best_only_saves_exactly_the_improving_epochs() -> dlkit::Result<()> {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = blobs(300, 3);
    let (xv, yv) = blobs(90, 4);
    let recorder = Recorder::default();
    let mut model = small_model(2, 16);
    let epochs = 8;
    let history = model.fit(
        &x,
        &y,
        options(epochs, &xv, &yv)
            .callback(
                ModelCheckpoint::new(dir.path().join("acc-{epoch}-{val_accuracy:.3f}.st"))
                    .monitor("val_accuracy")
                    .save_best_only(true)
                    .verbose(1),
            )
            .callback(
                ModelCheckpoint::new(dir.path().join("best.st"))
                    .monitor("val_accuracy")
                    .save_best_only(true)
                    .save_weights_only(true),
            )
            .callback(recorder.clone()),
    )?;
    // The epochs whose val_accuracy beats all before it (accuracy is maximised).
    let acc = &history.val_accuracy();
    let improving: Vec<usize> = (0..epochs)
        .filter(|&e| acc[..e].iter().all(|&before| acc[e] > before))
        .collect();
    assert!(
        improving.len() < epochs,
        "the test needs an epoch without improvement: {acc:?}"
    );
    let mut want: Vec<String> = improving
        .iter()
        .map(|&e| format!("acc-{}-{:.3}.st", e + 1, acc[e]))
        .collect();
    want.push("best.st".into());
    want.sort();
    assert_eq!(files_in(dir.path()), want, "val_accuracy {acc:?}");

    // The single file holds the weights of the last improvement, not the last epoch.
    let best = *improving.last().unwrap();
    assert!(
        best < epochs - 1,
        "the test needs the best epoch before the last: {acc:?}"
    );
    let mut reloaded = small_model(7, 16);
    reloaded.load_weights(dir.path().join("best.st"))?;
    let recorded = recorder.0.lock().unwrap();
    assert_eq!(weights(&reloaded), recorded[best]);
    assert_ne!(weights(&reloaded), recorded[epochs - 1]);
    Ok(())
}

#[test]
fn a_monitored_metric_that_training_does_not_report_is_an_error() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = blobs(60, 5);
    let mut model = small_model(3, 8);
    let err = model
        .fit(
            &x,
            &y,
            FitOptions::new().epochs(2).verbose(0).callback(
                ModelCheckpoint::new(dir.path().join("m.st"))
                    .monitor("val_loss")
                    .save_best_only(true),
            ),
        )
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(
        err.to_string().contains("\"val_loss\"") && err.to_string().contains("validation"),
        "{err}"
    );
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn resuming_from_a_backup_gives_the_uninterrupted_run_bit_for_bit() -> dlkit::Result<()> {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    let (x, y) = blobs(300, 6);
    let (xv, yv) = blobs(90, 7);

    // The reference: 4 epochs in one go (its backup is deleted at the end).
    let straight_dir = root.path().join("straight");
    let mut straight = small_model(11, 16);
    let want = straight.fit(
        &x,
        &y,
        options(4, &xv, &yv).callback(BackupAndRestore::new(&straight_dir)),
    )?;
    assert_eq!(want.epochs(), 4);
    assert!(!straight_dir.exists(), "a finished run deletes its backup");

    // A run that "crashes" after epoch 2 keeps its backup...
    let dir = root.path().join("backup");
    let mut crashed = small_model(11, 16);
    let h = crashed.fit(
        &x,
        &y,
        options(4, &xv, &yv)
            .callback(BackupAndRestore::new(&dir))
            .callback(StopAfter(2)),
    )?;
    assert_eq!(h.epochs(), 2);
    assert!(dir.join("backup.safetensors").is_file());
    assert_eq!(files_in(&dir), ["backup.safetensors"]);

    // ...and a new process' model, with other initial weights, continues it.
    let mut resumed = small_model(12345, 16);
    let got = resumed.fit(
        &x,
        &y,
        options(4, &xv, &yv).callback(BackupAndRestore::new(&dir)),
    )?;
    assert_eq!(got.loss(), want.loss());
    assert_eq!(got.accuracy(), want.accuracy());
    assert_eq!(got.val_loss(), want.val_loss());
    assert_eq!(got.val_accuracy(), want.val_accuracy());
    assert_eq!(got.epoch_seconds.len(), 4);
    assert_eq!(&got.epoch_seconds[..2], &h.epoch_seconds[..]);
    assert_eq!(got.stopped_early, None);
    assert_eq!(weights(&resumed), weights(&straight));
    assert!(
        !dir.exists(),
        "the backup is deleted once all epochs are done"
    );
    Ok(())
}

#[test]
fn an_interrupted_fit_continues_where_it_stopped_when_run_again() -> dlkit::Result<()> {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    let (x, y) = blobs(300, 8);
    let (xv, yv) = blobs(90, 9);
    let mut straight = small_model(21, 16);
    let want = straight.fit(&x, &y, options(4, &xv, &yv).seed(5))?;

    // Interrupted in epoch 3: the model holds weights from inside epoch 3,
    // the backup those of the end of epoch 2.
    let dir = root.path().join("b");
    let mut model = small_model(21, 16);
    let h = model.fit(
        &x,
        &y,
        options(4, &xv, &yv)
            .seed(5)
            .callback(BackupAndRestore::new(&dir))
            .callback(InterruptAfter(2)),
    )?;
    assert_eq!(h.epochs(), 2);
    assert!(
        h.stopped_early
            .as_deref()
            .unwrap_or("")
            .contains("interrupted in epoch 3"),
        "{:?}",
        h.stopped_early
    );
    assert!(dir.join("backup.safetensors").is_file());

    // Running the same cell again on the same model.
    let got = model.fit(
        &x,
        &y,
        options(4, &xv, &yv)
            .seed(5)
            .callback(BackupAndRestore::new(&dir)),
    )?;
    assert_eq!(got.loss(), want.loss());
    assert_eq!(got.val_accuracy(), want.val_accuracy());
    assert_eq!(weights(&model), weights(&straight));
    assert!(!dir.exists());
    Ok(())
}

#[test]
fn a_backup_of_another_model_is_a_clear_error_and_changes_nothing() -> dlkit::Result<()> {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("b");
    let (x, y) = blobs(120, 10);
    let (xv, yv) = blobs(30, 11);
    let mut model = small_model(31, 16);
    model.fit(
        &x,
        &y,
        options(3, &xv, &yv)
            .callback(BackupAndRestore::new(&dir))
            .callback(StopAfter(1)),
    )?;

    // Other shapes: a hidden layer of 12 instead of 16.
    let mut other = small_model(32, 12);
    let before = weights(&other);
    let err = other
        .fit(
            &x,
            &y,
            options(3, &xv, &yv).callback(BackupAndRestore::new(&dir)),
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::ModelFile(_)), "{err:?}");
    assert!(
        msg.contains("dense/kernel has shape [8, 16], the model needs [8, 12]"),
        "{msg}"
    );
    assert!(msg.contains(&format!("delete {}", dir.display())), "{msg}");
    assert_eq!(weights(&other), before, "a refused backup changes nothing");

    // The same layers with another optimizer.
    let mut sgd = small_model(33, 16);
    sgd.compile(
        Loss::SparseCategoricalCrossentropy,
        Sgd::new(),
        &[Metric::Accuracy],
    )?;
    let before = weights(&sgd);
    let err = sgd
        .fit(
            &x,
            &y,
            options(3, &xv, &yv).callback(BackupAndRestore::new(&dir)),
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::ModelFile(_)), "{err:?}");
    assert!(
        msg.contains("optimizer adam") && msg.contains("sgd"),
        "{msg}"
    );
    assert!(msg.contains("delete"), "{msg}");
    assert_eq!(weights(&sgd), before);
    assert!(
        dir.join("backup.safetensors").is_file(),
        "failed runs keep the backup"
    );

    // A damaged file is refused the same way, not a panic.
    std::fs::write(dir.join("backup.safetensors"), b"not a backup").unwrap();
    let err = small_model(31, 16)
        .fit(
            &x,
            &y,
            options(3, &xv, &yv).callback(BackupAndRestore::new(&dir)),
        )
        .unwrap_err();
    assert!(matches!(err, Error::ModelFile(_)), "{err:?}");
    assert!(err.to_string().contains("delete"), "{err}");
    Ok(())
}

#[test]
fn unwritable_paths_are_errors_not_panics() {
    let _serial = serial();
    let root = tempfile::tempdir().unwrap();
    // A file where a directory should be: fails for every user, root included.
    let blocker: PathBuf = root.path().join("blocker");
    std::fs::write(&blocker, b"").unwrap();
    let (x, y) = blobs(60, 12);
    let fit = |callback: Box<dyn Fn(FitOptions) -> FitOptions>| {
        let mut model = small_model(41, 8);
        model.fit(&x, &y, callback(FitOptions::new().epochs(2).verbose(0)))
    };

    let to = blocker.join("m.safetensors");
    let err = fit(Box::new(move |o| o.callback(ModelCheckpoint::new(&to)))).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");

    let to = blocker.clone();
    let err = fit(Box::new(move |o| o.callback(BackupAndRestore::new(&to)))).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(err.to_string().contains("not a directory"), "{err}");

    let to = blocker.join("backup");
    let err = fit(Box::new(move |o| o.callback(BackupAndRestore::new(&to)))).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}
