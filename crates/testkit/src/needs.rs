//! What a test needs from the machine, checked before the test starts its
//! work: a missing program, privilege or device fails the test with one
//! line naming what is missing and how to provide it — not a panic trace
//! that reads like a product bug, and never a silent skip that could hide
//! a regression.
//!
//! The failure unwinds with [`std::panic::resume_unwind`], which runs no
//! panic hook: libtest marks the test failed and shows the one line the
//! test printed, without a location or a backtrace.

use std::path::{Path, PathBuf};

/// Fail the running test: `what` is missing; `how` says how to provide it.
pub fn missing(what: &str, how: &str) -> ! {
    let line = format!("this test needs {what}, which this machine lacks: {how}");
    eprintln!("{line}");
    std::panic::resume_unwind(Box::new(line))
}

/// `name` on the `PATH`, from the Debian `package` that `cargo xtask test`
/// installs.
pub fn program(name: &str, package: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| {
        missing(
            &format!("the program `{name}`"),
            &format!(
                "install the Debian package {package} (`cargo xtask setup` installs it, as root)"
            ),
        )
    })
}

/// Where `name` is on the `PATH`, if it is.
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return is_executable(&path).then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // `id -u` rather than libc: this crate stays free of `unsafe`.
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Root, for `why`.
pub fn root(why: &str) {
    if !is_root() {
        missing(
            &format!("root ({why})"),
            "run the test command as root, as CI and the README's commands do",
        );
    }
}

/// A device node, e.g. `/dev/net/tun`.
pub fn device(path: &str, how: &str) {
    if !Path::new(path).exists() {
        missing(&format!("the device {path}"), how);
    }
}

/// What the island-link emulator (`kh-netem`) needs: root, network
/// namespaces through iproute2, and the tun driver.
pub fn island_link() {
    root("network namespaces for the emulated island link");
    program("ip", "iproute2");
    device(
        "/dev/net/tun",
        "load the tun driver (`modprobe tun`), or give the container /dev/net/tun",
    );
}
