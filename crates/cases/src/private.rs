//! The case database's file and directory, kept to their owner: the
//! database holds names, IDs and clinical text, which no other local user
//! may read.

use std::path::Path;

/// Makes `dir` (and missing parents) for the database: the directories
/// made here are 0700. An existing directory others can reach is left as
/// it is (it may be one the hospital shares on purpose) but logged.
pub fn make_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mode = std::fs::metadata(dir)?.mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "the case database's directory has mode {mode:04o}: other users can reach it \
                 (0700 keeps it private)"
            );
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        // Elsewhere the user's profile directories are private already.
        std::fs::create_dir_all(dir)
    }
}

/// Creates the database file as 0600 before SQLite opens it (an empty file
/// is a new database), or takes group and other access away from an
/// existing one.
pub fn make_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let meta = std::fs::metadata(path)?;
        let mode = meta.mode() & 0o777;
        if meta.is_file() && mode & 0o077 != 0 {
            tracing::warn!("the case database had mode {mode:04o}; now 0600");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}
