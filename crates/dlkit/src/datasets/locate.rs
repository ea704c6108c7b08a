//! Where a dataset's files are looked for ([`locate`]), and the one place that
//! reads environment variables ([`Environment::from_process`]).

use std::fmt;
use std::path::{Path, PathBuf};

use super::DatasetSpec;
use crate::{Error, Result};

/// The environment variable that points at a directory holding `<name>/` folders of dataset files.
pub const DATASETS_VAR: &str = "DLKIT_DATASETS";

/// The environment variables the loaders look at, as plain values.
///
/// [`Environment::from_process`] is the only place dlkit reads them; everything
/// else takes an `Environment`, so other values can be tried without touching
/// the process environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    /// `$DLKIT_DATASETS`: a directory with one folder per dataset (`mnist/`, `fashion-mnist/`).
    pub datasets_dir: Option<PathBuf>,
    /// `$XDG_CACHE_HOME`.
    pub xdg_cache_home: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
}

impl Environment {
    /// Reads `DLKIT_DATASETS`, `XDG_CACHE_HOME` and `HOME`; unset and empty are alike.
    pub fn from_process() -> Self {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        Environment {
            datasets_dir: var(DATASETS_VAR),
            xdg_cache_home: var("XDG_CACHE_HOME"),
            home: var("HOME"),
        }
    }

    /// The folder that holds one download cache per dataset, if this environment names one.
    pub fn cache_root(&self) -> Option<PathBuf> {
        let cache_home = match &self.xdg_cache_home {
            // The XDG spec says a relative value is invalid and must be ignored.
            Some(dir) if dir.is_absolute() => dir.clone(),
            _ => self.home.as_ref()?.join(".cache"),
        };
        Some(cache_home.join("dlkit").join("datasets"))
    }
}

/// Who chose the directory a dataset is read from; it decides whether a
/// download may fill it and what an error message advises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Passed to `load_data_from`.
    Argument,
    /// `$DLKIT_DATASETS/<name>`.
    EnvVar,
    /// The user cache, where downloads go.
    Cache,
}

/// A directory to read a dataset from, and why that one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub dir: PathBuf,
    pub origin: Origin,
}

impl Location {
    /// The directory passed explicitly by the caller.
    pub fn given(dir: impl Into<PathBuf>) -> Self {
        Location {
            dir: dir.into(),
            origin: Origin::Argument,
        }
    }

    /// What to do about a damaged or wrong file found here.
    pub(crate) fn advice_for_bad_file(&self, dataset: &DatasetSpec, file: &Path) -> String {
        match self.origin {
            Origin::Argument => format!(
                "Check that {} holds the original {} files (gzipped or not).",
                self.dir.display(),
                dataset.title
            ),
            Origin::EnvVar => format!(
                "Check {} (chosen by {DATASETS_VAR}), or unset {DATASETS_VAR} to download the files into the cache.",
                self.dir.display()
            ),
            Origin::Cache => format!(
                "Delete {} and load again to download a fresh copy.",
                file.display()
            ),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.origin {
            Origin::Argument => write!(f, "{}", self.dir.display()),
            Origin::EnvVar => write!(f, "{} (from {DATASETS_VAR})", self.dir.display()),
            Origin::Cache => write!(f, "{} (the download cache)", self.dir.display()),
        }
    }
}

/// Chooses the directory to read `dataset` from in `env`.
///
/// In order: `$DLKIT_DATASETS/<name>/`, then the user cache
/// `$XDG_CACHE_HOME/dlkit/datasets/<name>/` (only if `XDG_CACHE_HOME` is
/// absolute, as the XDG spec says) or `~/.cache/dlkit/datasets/<name>/`.
/// (A directory passed to `load_data_from` comes before all of these.)
/// Only the cache is filled by downloading: a directory someone chose that
/// lacks the files is an error, never a silent download.
///
/// Fails only when `env` names no directory at all (no `DLKIT_DATASETS`, no
/// usable `XDG_CACHE_HOME`, no `HOME`).
///
/// ```
/// use dlkit::datasets::{locate, mnist, Environment, Origin};
/// use std::path::Path;
///
/// let env = Environment { home: Some("/home/ada".into()), ..Default::default() };
/// let location = locate(&mnist::MNIST, &env)?;
/// assert_eq!(location.dir, Path::new("/home/ada/.cache/dlkit/datasets/mnist"));
/// assert_eq!(location.origin, Origin::Cache);
///
/// let env = Environment { datasets_dir: Some("/usr/share/datasets".into()), ..env };
/// let location = locate(&dlkit::datasets::fashion_mnist::FASHION_MNIST, &env)?;
/// assert_eq!(location.dir, Path::new("/usr/share/datasets/fashion-mnist"));
/// assert_eq!(location.origin, Origin::EnvVar);
/// # Ok::<(), dlkit::Error>(())
/// ```
pub fn locate(dataset: &DatasetSpec, env: &Environment) -> Result<Location> {
    if let Some(root) = &env.datasets_dir {
        return Ok(Location {
            dir: root.join(dataset.name),
            origin: Origin::EnvVar,
        });
    }
    match env.cache_root() {
        Some(root) => Ok(Location {
            dir: root.join(dataset.name),
            origin: Origin::Cache,
        }),
        None => Err(Error::Dataset(format!(
            "{}: nowhere to look for the files: neither {DATASETS_VAR} nor HOME (or an absolute \
             XDG_CACHE_HOME) is set. Set {DATASETS_VAR} to a directory holding {}/, or call \
             load_data_from(dir).",
            dataset.title, dataset.name
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::{fashion_mnist::FASHION_MNIST, mnist::MNIST};

    #[test]
    fn datasets_var_wins_over_the_cache() {
        let env = Environment {
            datasets_dir: Some("/usr/share/datasets".into()),
            xdg_cache_home: Some("/xdg".into()),
            home: Some("/home/u".into()),
        };
        let loc = locate(&FASHION_MNIST, &env).unwrap();
        assert_eq!(loc.dir, Path::new("/usr/share/datasets/fashion-mnist"));
        assert_eq!(loc.origin, Origin::EnvVar);
    }

    #[test]
    fn absolute_xdg_cache_home_wins_over_home() {
        let env = Environment {
            datasets_dir: None,
            xdg_cache_home: Some("/xdg".into()),
            home: Some("/home/u".into()),
        };
        let loc = locate(&MNIST, &env).unwrap();
        assert_eq!(loc.dir, Path::new("/xdg/dlkit/datasets/mnist"));
        assert_eq!(loc.origin, Origin::Cache);
    }

    #[test]
    fn relative_xdg_cache_home_is_ignored() {
        let env = Environment {
            datasets_dir: None,
            xdg_cache_home: Some("relative/cache".into()),
            home: Some("/home/u".into()),
        };
        let loc = locate(&MNIST, &env).unwrap();
        assert_eq!(loc.dir, Path::new("/home/u/.cache/dlkit/datasets/mnist"));
    }

    #[test]
    fn no_directory_at_all_is_an_error() {
        let env = Environment {
            xdg_cache_home: Some("relative".into()),
            ..Default::default()
        };
        let err = locate(&MNIST, &env).unwrap_err().to_string();
        assert!(
            err.contains("DLKIT_DATASETS") && err.contains("load_data_from"),
            "{err}"
        );
    }
}
