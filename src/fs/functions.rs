//! The free functions of `std::fs`, each run on the default thread pool.

use std::fmt;
use std::fs::{DirEntry, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use crate::threadpool::apply;

/// Runs `op` on an owned copy of `path` on the default pool.
#[track_caller]
fn with_path<T, F>(path: &Path, op: F) -> io::Result<T>
where
    F: FnOnce(PathBuf) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let path = path.to_path_buf();
    apply(move || op(path))
}

/// Runs `op` on owned copies of `from` and `to` on the default pool.
#[track_caller]
fn with_paths<T, F>(from: &Path, to: &Path, op: F) -> io::Result<T>
where
    F: FnOnce(PathBuf, PathBuf) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    apply(move || op(from, to))
}

/// Reads a whole file into a vector, as [`std::fs::read`], on the default
/// pool.
///
/// # Errors
///
/// std's: `NotFound` when there is no such file, `PermissionDenied`, …
///
/// # Examples
///
/// ```
/// let manifest = greenlet::fs::read("Cargo.toml")?;
/// assert!(manifest.starts_with(b"[package]"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    with_path(path.as_ref(), std::fs::read)
}

/// Reads a whole file into a string, as [`std::fs::read_to_string`], on the
/// default pool.
///
/// # Errors
///
/// std's: `NotFound`, `PermissionDenied`, …, and `InvalidData` when the
/// file is not UTF-8.
///
/// # Examples
///
/// ```
/// let manifest = greenlet::fs::read_to_string("Cargo.toml")?;
/// assert!(manifest.contains("name = \"greenlet\""));
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    with_path(path.as_ref(), std::fs::read_to_string)
}

/// Writes `contents` as the whole of a file, creating or truncating it, as
/// [`std::fs::write`], on the default pool. The bytes are copied first.
///
/// # Errors
///
/// std's: `NotFound` when the directory does not exist, `PermissionDenied`,
/// a full disk, …
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("greenlet-write-doc-{}", std::process::id()));
/// greenlet::fs::write(&path, b"bytes")?;
/// assert_eq!(std::fs::read(&path)?, b"bytes");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let contents = contents.as_ref().to_vec();
    with_path(path.as_ref(), move |path| std::fs::write(path, contents))
}

/// Copies the contents and permissions of one file to another, as
/// [`std::fs::copy`], on the default pool, and returns the number of bytes
/// copied.
///
/// # Errors
///
/// std's: `NotFound` when `from` does not exist, `InvalidInput` when it is
/// no regular file, …
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("greenlet-copy-doc-{}", std::process::id()));
/// let copied = greenlet::fs::copy("Cargo.toml", &path)?;
/// assert_eq!(copied, std::fs::metadata("Cargo.toml")?.len());
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    with_paths(from.as_ref(), to.as_ref(), std::fs::copy)
}

/// Renames a file or directory, replacing `to` if it exists, as
/// [`std::fs::rename`], on the default pool.
///
/// # Errors
///
/// std's: `NotFound` when `from` does not exist, an error when the two are
/// on different file systems, …
///
/// # Examples
///
/// ```
/// let dir = std::env::temp_dir();
/// let (a, b) = (dir.join(format!("greenlet-rename-a-{}", std::process::id())),
///               dir.join(format!("greenlet-rename-b-{}", std::process::id())));
/// std::fs::write(&a, "x")?;
/// greenlet::fs::rename(&a, &b)?;
/// assert!(!a.exists() && b.exists());
/// # std::fs::remove_file(&b)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    with_paths(from.as_ref(), to.as_ref(), std::fs::rename)
}

/// A path's metadata, following symbolic links, as [`std::fs::metadata`],
/// on the default pool.
///
/// # Errors
///
/// std's: `NotFound`, `PermissionDenied` on a directory on the way, …
///
/// # Examples
///
/// ```
/// assert!(greenlet::fs::metadata("Cargo.toml")?.is_file());
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    with_path(path.as_ref(), std::fs::metadata)
}

/// Creates a directory, as [`std::fs::create_dir`], on the default pool.
///
/// # Errors
///
/// std's: `AlreadyExists`, `NotFound` when the parent is missing, …
///
/// # Examples
///
/// ```
/// let dir = std::env::temp_dir().join(format!("greenlet-mkdir-doc-{}", std::process::id()));
/// greenlet::fs::create_dir(&dir)?;
/// assert!(dir.is_dir());
/// greenlet::fs::remove_dir(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    with_path(path.as_ref(), std::fs::create_dir)
}

/// Creates a directory and its missing parents, as
/// [`std::fs::create_dir_all`], on the default pool.
///
/// # Errors
///
/// std's: `PermissionDenied`, a file in the way, …
///
/// # Examples
///
/// ```
/// let top = std::env::temp_dir().join(format!("greenlet-mkdirs-doc-{}", std::process::id()));
/// greenlet::fs::create_dir_all(top.join("a/b"))?;
/// assert!(top.join("a/b").is_dir());
/// greenlet::fs::remove_dir_all(&top)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    with_path(path.as_ref(), std::fs::create_dir_all)
}

/// Removes an empty directory, as [`std::fs::remove_dir`], on the default
/// pool.
///
/// # Errors
///
/// std's: `NotFound`, an error when it is not empty, …
///
/// # Examples
///
/// ```
/// let dir = std::env::temp_dir().join(format!("greenlet-rmdir-doc-{}", std::process::id()));
/// std::fs::create_dir(&dir)?;
/// greenlet::fs::remove_dir(&dir)?;
/// assert!(!dir.exists());
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    with_path(path.as_ref(), std::fs::remove_dir)
}

/// Removes a directory and everything in it, as [`std::fs::remove_dir_all`],
/// on the default pool (in one call: a killed caller does not stop it).
///
/// # Errors
///
/// std's: `NotFound`, `PermissionDenied`, …
///
/// # Examples
///
/// ```
/// let top = std::env::temp_dir().join(format!("greenlet-rmtree-doc-{}", std::process::id()));
/// std::fs::create_dir_all(top.join("a"))?;
/// std::fs::write(top.join("a/f"), "x")?;
/// greenlet::fs::remove_dir_all(&top)?;
/// assert!(!top.exists());
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    with_path(path.as_ref(), std::fs::remove_dir_all)
}

/// Removes a file, as [`std::fs::remove_file`], on the default pool.
///
/// # Errors
///
/// std's: `NotFound`, `PermissionDenied`, an error for a directory, …
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("greenlet-rm-doc-{}", std::process::id()));
/// std::fs::write(&path, "x")?;
/// greenlet::fs::remove_file(&path)?;
/// assert_eq!(greenlet::fs::remove_file(&path).unwrap_err().kind(), std::io::ErrorKind::NotFound);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    with_path(path.as_ref(), std::fs::remove_file)
}

/// Lists a directory, as [`std::fs::read_dir`], on the default pool: the
/// whole listing is read in one pool call, and [`ReadDir`] hands out the
/// entries from memory.
///
/// # Errors
///
/// std's: `NotFound`, `PermissionDenied`, an error for a file. An error met
/// while listing (after the directory was opened) is an `Err` item, where
/// std's iterator would have returned it.
///
/// # Examples
///
/// ```
/// let names: Vec<_> = greenlet::fs::read_dir("src")?
///     .map(|entry| entry.map(|e| e.file_name()))
///     .collect::<std::io::Result<_>>()?;
/// assert!(names.iter().any(|name| name == "lib.rs"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    with_path(path.as_ref(), |path| {
        let entries: Vec<_> = std::fs::read_dir(path)?.collect();
        Ok(ReadDir {
            entries: entries.into_iter(),
        })
    })
}

/// The entries of a directory, returned by [`read_dir`]: an iterator of
/// `io::Result<DirEntry>`, in the order the system listed them.
///
/// The listing was read whole on the pool; iterating does no I/O. Of a
/// [`DirEntry`]'s methods, `path`, `file_name` and (on most file systems)
/// `file_type` do no I/O either, while `metadata` does: call
/// [`metadata`](fn@metadata) with `entry.path()` to keep it off the hub.
///
/// # Examples
///
/// ```
/// let listing = greenlet::fs::read_dir("src")?;
/// assert!(listing.len() > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ReadDir {
    entries: std::vec::IntoIter<io::Result<DirEntry>>,
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        self.entries.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl ExactSizeIterator for ReadDir {}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir")
            .field("pending", &self.entries.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[track_caller]
    fn with_path_hands_the_pool_an_owned_copy() {
        let seen: PathBuf = with_path(Path::new("a/b"), Ok).unwrap();
        assert_eq!(seen, Path::new("a/b"));
    }
}
