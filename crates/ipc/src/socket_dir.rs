//! Where the console–viewer socket lives. The socket carries slide paths and
//! the call's video, so no other local user may reach it: it sits in a
//! directory only we can enter (0700, owned by us). A directory that exists
//! already but is someone else's, or that others may write to, is refused
//! rather than repaired — another user could have made it to catch the
//! console's socket. There is no fallback to a fixed name in the shared
//! temporary directory; without `XDG_RUNTIME_DIR` a fresh, randomly named
//! directory is made there (as `mkdtemp`, exclusive) and removed on drop.
//!
//! The directory is the first fence; the [`crate::Listener`] is the second:
//! it accepts only its own user's processes and, given one, only that
//! process (see `connection.rs`).

use crate::IpcError;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The private directory the socket is made in.
#[derive(Debug)]
pub enum SocketDir {
    /// `$XDG_RUNTIME_DIR/kakehashi`: kept (other sessions of the console
    /// use it too; each socket is named by its console's pid).
    Runtime(PathBuf),
    /// A fresh directory under the temporary directory, removed on drop.
    Temporary(tempfile::TempDir),
}

impl SocketDir {
    /// `$XDG_RUNTIME_DIR/kakehashi`, made private or checked to be; a fresh
    /// private directory under the temporary directory when there is no
    /// runtime directory.
    pub fn for_this_session() -> Result<SocketDir, IpcError> {
        match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            Some(runtime) => {
                let dir = PathBuf::from(runtime).join("kakehashi");
                ensure_private_dir(&dir)?;
                Ok(SocketDir::Runtime(dir))
            }
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("kakehashi-")
                    .permissions(std::fs::Permissions::from_mode(0o700))
                    .tempdir()
                    .map_err(|e| IpcError::Io(with_path(e, &std::env::temp_dir())))?;
                check_private_dir(dir.path())?;
                Ok(SocketDir::Temporary(dir))
            }
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            SocketDir::Runtime(dir) => dir,
            SocketDir::Temporary(dir) => dir.path(),
        }
    }

    /// Removes `socket` (a name in this directory) and, for a directory
    /// made for this process alone, the directory: for a process that
    /// holds its `SocketDir` in a static and exits without running
    /// destructors (the console under Tauri), which would otherwise leave
    /// an empty `kakehashi-*` folder in /tmp at every start.
    pub fn clean_up(&self, socket: &Path) {
        if socket.parent() == Some(self.path()) {
            let _ = std::fs::remove_file(socket);
        }
        if let SocketDir::Temporary(dir) = self {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }
}

/// Makes `dir` (mode 0700) unless it exists, then checks that it is
/// private: see [`check_private_dir`].
pub fn ensure_private_dir(dir: &Path) -> Result<(), IpcError> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| IpcError::Io(with_path(e, parent)))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(IpcError::Io(with_path(e, dir))),
    }
    check_private_dir(dir)
}

/// `dir` is a directory (not a link to one), owned by this user, and
/// neither its group nor others may write to or enter it.
pub fn check_private_dir(dir: &Path) -> Result<(), IpcError> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| IpcError::Io(with_path(e, dir)))?;
    let refuse = |why: String| {
        Err(IpcError::UnsafeDirectory {
            path: dir.to_path_buf(),
            why,
        })
    };
    if meta.file_type().is_symlink() {
        return refuse("it is a symbolic link".into());
    }
    if !meta.is_dir() {
        return refuse("it is not a directory".into());
    }
    let me = rustix::process::getuid().as_raw();
    if meta.uid() != me {
        return refuse(format!(
            "it belongs to user {}, not to us ({me})",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return refuse(format!(
            "its mode is {mode:04o}: other users may enter or write to it (0700 expected)"
        ));
    }
    Ok(())
}

/// `e`, saying which path it was about.
fn with_path(e: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_up_removes_a_temporary_directory_but_not_the_runtime_one() {
        let made = tempfile::Builder::new()
            .prefix("kakehashi-")
            .tempdir()
            .unwrap();
        let temporary = SocketDir::Temporary(made);
        let socket = temporary.path().join("viewer-1.sock");
        std::fs::write(&socket, b"").unwrap();
        temporary.clean_up(&socket);
        assert!(!temporary.path().exists());

        let base = tempfile::tempdir().unwrap();
        let runtime = SocketDir::Runtime(base.path().join("kakehashi"));
        ensure_private_dir(runtime.path()).unwrap();
        let ours = runtime.path().join("viewer-2.sock");
        let anothers = runtime.path().join("viewer-3.sock");
        std::fs::write(&ours, b"").unwrap();
        std::fs::write(&anothers, b"").unwrap();
        runtime.clean_up(&ours);
        assert!(!ours.exists() && anothers.exists());
        // Never outside the directory.
        let outside = base.path().join("viewer-4.sock");
        std::fs::write(&outside, b"").unwrap();
        runtime.clean_up(&outside);
        assert!(outside.exists());
    }

    #[test]
    fn a_new_directory_is_made_private() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("kakehashi");
        ensure_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // A second console finds it and accepts it as it is.
        ensure_private_dir(&dir).unwrap();
    }

    #[test]
    fn a_directory_others_may_enter_or_write_is_refused() {
        let base = tempfile::tempdir().unwrap();
        for mode in [0o777, 0o770, 0o705, 0o1777] {
            let dir = base.path().join(format!("open-{mode:o}"));
            std::fs::create_dir(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
            let refused = ensure_private_dir(&dir);
            assert!(
                matches!(&refused, Err(IpcError::UnsafeDirectory { why, .. }) if why.contains("mode")),
                "{mode:o}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_link_or_a_file_in_its_place_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = base.path().join("kakehashi");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let refused = ensure_private_dir(&link);
        assert!(
            matches!(&refused, Err(IpcError::UnsafeDirectory { why, .. }) if why.contains("link")),
            "{refused:?}"
        );
        let file = base.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            ensure_private_dir(&file),
            Err(IpcError::UnsafeDirectory { .. })
        ));
    }

    #[test]
    fn a_directory_of_another_user_is_refused() {
        // Only root can give a directory away; elsewhere the ownership
        // check is covered by the mode checks' shared path.
        if !rustix::process::getuid().is_root() {
            return;
        }
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("kakehashi");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        let refused = ensure_private_dir(&dir);
        assert!(
            matches!(&refused, Err(IpcError::UnsafeDirectory { why, .. }) if why.contains("65534")),
            "{refused:?}"
        );
    }
}
