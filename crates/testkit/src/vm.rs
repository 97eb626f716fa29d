//! A throwaway Linux guest for tests that need kernel drivers the build
//! machines do not load: QEMU (software emulation, so no /dev/kvm needed)
//! boots Debian's own kernel with a small initramfs that loads the asked
//! modules, and runs a shell script in this machine's own filesystem: the
//! host's root, read-only over 9p, under an overlay whose writes go to the
//! guest's memory. Every host path reads in the guest as it does here —
//! `/tmp` included, where a clone of this repository and its binaries may
//! live — and nothing the guest writes reaches the host except through
//! `$OUT`, a shared directory mounted at a path of its own. The
//! workspace's binaries run in the guest as they are, against the guest
//! kernel's drivers (vivid, the kernel's virtual V4L2 camera, for the
//! camera tests).
//!
//! The kernel package is fetched by `cargo xtask fixtures` from Debian's
//! archive into `target/vm-kernel` (`KH_VM_KERNEL` elsewhere). Test code:
//! what the machine lacks fails the test with one line (`needs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The unpacked kernel package: `boot/vmlinuz-*` and `lib/modules/*`.
pub fn kernel_dir() -> PathBuf {
    let dir = std::env::var_os("KH_VM_KERNEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target/vm-kernel"));
    if !dir.join("root/boot").is_dir() {
        crate::needs::missing(
            &format!("a guest kernel in {}", dir.display()),
            "run `cargo xtask fixtures` (the README's test command does)",
        );
    }
    dir.join("root")
}

/// What a guest run left: the script's exit status, its output and the
/// files it wrote under `$OUT`.
pub struct GuestRun {
    /// `None` when the guest did not finish the script in time.
    pub status: Option<i32>,
    /// The script's stdout and stderr.
    pub output: String,
    /// The kernel's console (boot messages, module loading).
    pub console: String,
    /// `$OUT` inside the guest: written there, read here.
    pub out: tempfile::TempDir,
}

impl GuestRun {
    /// Everything a failure message needs.
    /// Everything a failure message needs: the status, the script's
    /// output, each `*.out` and `*.log` it left in `$OUT`, and the
    /// console's tail.
    pub fn describe(&self) -> String {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.out.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "out" || e == "log"))
            .collect();
        logs.sort();
        let mut text = format!(
            "guest status {:?}\n--- script output ---\n{}",
            self.status, self.output
        );
        for log in logs {
            let content = std::fs::read_to_string(&log).unwrap_or_default();
            text.push_str(&format!(
                "\n--- {} (tail) ---\n{}",
                log.file_name().unwrap_or_default().to_string_lossy(),
                tail(&content, 3000)
            ));
        }
        text.push_str(&format!(
            "\n--- console (tail) ---\n{}",
            tail(&self.console, 3000)
        ));
        text
    }
}

fn tail(text: &str, bytes: usize) -> &str {
    let start = text.len().saturating_sub(bytes);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

/// A guest with `modules` loaded (each with its parameters; what they
/// depend on is loaded first) runs `script` with `sh` as root, with `$OUT`
/// a writable directory shared with the host; the guest is killed after
/// `limit`.
pub fn run(modules: &[(&str, &str)], script: &str, limit: Duration) -> GuestRun {
    let kernel_root = kernel_dir();
    let qemu = crate::needs::program("qemu-system-x86_64", "qemu-system-x86");
    let work = tempfile::tempdir().expect("guest work dir");
    let out = tempfile::tempdir().expect("guest out dir");
    let vmlinuz = std::fs::read_dir(kernel_root.join("boot"))
        .expect("boot dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .expect("a vmlinuz in the kernel package");
    let initrd = initramfs(&kernel_root, modules, work.path());
    std::fs::write(out.path().join("run.sh"), script).expect("script");

    let console = work.path().join("console.log");
    let mut qemu = Command::new(qemu)
        .args(["-accel", "tcg", "-cpu", "max", "-m", "2048", "-smp", "2"])
        .args(["-nodefaults", "-display", "none", "-no-reboot"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-kernel")
        .arg(&vmlinuz)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", "console=ttyS0 panic=-1 quiet"])
        .args([
            "-virtfs",
            "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        ])
        .arg("-virtfs")
        .arg(format!(
            "local,path={},mount_tag=out,security_model=none",
            out.path().display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting qemu-system-x86_64");
    let deadline = Instant::now() + limit;
    let finished = loop {
        if qemu.try_wait().expect("qemu").is_some() {
            break true;
        }
        if Instant::now() > deadline {
            let _ = qemu.kill();
            let _ = qemu.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let status = read(&out.path().join("exit")).trim().parse().ok();
    GuestRun {
        status: if finished { status } else { None },
        output: read(&out.path().join("output")),
        console: read(&console),
        out,
    }
}

/// The initramfs: busybox, the modules in dependency order, and an init
/// that mounts the host's root and runs `$OUT/run.sh` inside it.
fn initramfs(kernel_root: &Path, modules: &[(&str, &str)], work: &Path) -> PathBuf {
    let tree = work.join("initramfs");
    for dir in ["bin", "lib/modules", "proc", "sys", "dev", "host"] {
        std::fs::create_dir_all(tree.join(dir)).expect("initramfs dirs");
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            crate::needs::missing(
                "a static busybox for the guest's initramfs",
                "install the Debian package busybox-static (`cargo xtask setup` does, as root)",
            )
        });
    std::fs::copy(busybox, tree.join("bin/busybox")).expect("busybox");

    let available = module_files(&kernel_root.join("lib/modules"));
    let mut order: Vec<String> = Vec::new();
    let mut wanted: Vec<(&str, &str)> = modules.to_vec();
    // The 9p mounts ride on virtio-pci; the writable root is an overlay.
    wanted.extend([
        ("virtio_pci", ""),
        ("9pnet_virtio", ""),
        ("9p", ""),
        ("overlay", ""),
    ]);
    for (name, _) in &wanted {
        visit(&normal(name), &available, &mut order);
    }
    let mut load = String::new();
    for name in &order {
        let file = &available[name];
        let base = format!("{name}.ko");
        std::fs::copy(file, tree.join("lib/modules").join(&base)).expect("module");
        let params = wanted
            .iter()
            .find(|(n, _)| normal(n) == *name)
            .map_or("", |(_, p)| p);
        load.push_str(&format!(
            "insmod /lib/modules/{base} {params} || echo \"guest: insmod {base} failed\"\n"
        ));
    }
    let init = format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
{load}
mkdir -p /lower /scratch
mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /lower || echo "guest: mounting the host failed"
# The host's files, all of them where they are on the host (a checkout
# under /tmp too), writable in memory: nothing is mounted over a host path.
mount -t tmpfs scratch /scratch
mkdir -p /scratch/upper /scratch/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/scratch/upper,workdir=/scratch/work /host \
    || echo "guest: the overlay over the host's root failed"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
# $OUT at a path that exists only in the guest's overlay: it hides no host
# file.
mkdir -p /host{GUEST_OUT}
mount -t 9p -o trans=virtio,version=9p2000.L out /host{GUEST_OUT} || echo "guest: mounting out failed"
ip link set lo up
chroot /host /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME={GUEST_OUT}/home OUT={GUEST_OUT} \
    /bin/sh -c 'mkdir -p "$HOME"; exec /bin/sh "$OUT/run.sh"' > /host{GUEST_OUT}/output 2>&1
echo $? > /host{GUEST_OUT}/exit
sync
poweroff -f
"#
    );
    let init_path = tree.join("init");
    std::fs::write(&init_path, init).expect("init");
    let status = Command::new("chmod")
        .arg("+x")
        .arg(&init_path)
        .status()
        .expect("chmod");
    assert!(status.success());
    let image = work.join("initramfs.cpio");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "find . | {} cpio -o -H newc > {} 2>/dev/null",
            busybox.display(),
            image.display()
        ))
        .current_dir(&tree)
        .status()
        .expect("cpio");
    assert!(status.success(), "making the initramfs");
    image
}

/// Where the guest sees `$OUT`: a directory made in its overlay, under no
/// path the host uses.
pub const GUEST_OUT: &str = "/kh-guest-out";

/// Module names as the kernel compares them (`-` and `_` alike).
fn normal(name: &str) -> String {
    name.replace('-', "_")
}

/// Every `.ko` under `dir`, by module name.
fn module_files(dir: &Path) -> HashMap<String, PathBuf> {
    let mut found = HashMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str())
                && let Some(stem) = name.strip_suffix(".ko")
            {
                found.insert(normal(stem), path);
            }
        }
    }
    found
}

/// `name` after what it depends on (read from the module's `.modinfo`
/// `depends=` entry, as modprobe would from modules.dep). Modules built
/// into the kernel have no file and need nothing.
fn visit(name: &str, available: &HashMap<String, PathBuf>, order: &mut Vec<String>) {
    if order.iter().any(|n| n == name) {
        return;
    }
    let Some(file) = available.get(name) else {
        return;
    };
    let bytes = std::fs::read(file).expect("module file");
    let marker = b"\0depends=";
    if let Some(at) = bytes.windows(marker.len()).position(|w| w == marker) {
        let list = &bytes[at + marker.len()..];
        let end = list.iter().position(|b| *b == 0).unwrap_or(list.len());
        for dep in String::from_utf8_lossy(&list[..end]).split(',') {
            if !dep.is_empty() {
                visit(&normal(dep), available, order);
            }
        }
    }
    order.push(name.to_string());
}
