//! An island link for call tests: two network namespaces, each with one
//! Ethernet interface, joined by a link emulated in this process — rate,
//! one-way delay, random loss, cuts — that the test can reshape while the
//! call runs.
//!
//! Why in userspace: the build machines' kernel has no `netem`, so delay
//! cannot come from `tc`. Each namespace gets a TAP interface whose other
//! end is a file descriptor held here; a thread per direction reads the
//! frames one side sends and writes them into the other side after the
//! link has had its way with them (a bottleneck queue served at the link
//! rate, a fixed propagation delay, Bernoulli loss). Everything stays in
//! namespaces the test created; closing the descriptors removes the
//! interfaces and dropping the link deletes the namespaces.
//!
//! Needs root (CAP_NET_ADMIN) and `/dev/net/tun`, which the build and CI
//! machines have; without them [`IslandLink::start`] says which is
//! missing. What the link does to each packet is [`model::LinkModel`],
//! sans-IO: simulations drive the same model in virtual time, without
//! root.

pub mod model;

use model::{Dropped, LinkModel};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Why the link could not be made.
#[derive(Debug, thiserror::Error)]
pub enum NetemError {
    #[error("ip {args}: {reason} (the island link needs root and network namespaces)")]
    Ip { args: String, reason: String },
    #[error("opening /dev/net/tun (the island link needs root and the tun driver): {0}")]
    Tun(std::io::Error),
    #[error("TUNSETIFF {name}: {source}")]
    TapInterface {
        name: String,
        source: std::io::Error,
    },
    #[error("starting the link's threads: {0}")]
    Thread(std::io::Error),
}

/// The address of side A (the hospital) and side B (the island).
pub const ADDRESS_A: &str = "10.77.0.1";
pub const ADDRESS_B: &str = "10.77.0.2";

/// What the link does to traffic, the same in both directions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkShape {
    /// Bottleneck rate, bits per second.
    pub rate_bps: u64,
    /// One-way propagation delay (the round trip is twice this).
    pub one_way_delay: Duration,
    /// Probability that a frame is lost, in percent.
    pub loss_percent: f64,
    /// The bottleneck's buffer, as the time its contents take to drain at
    /// the rate: arrivals that would wait longer are dropped (a router's
    /// tail drop).
    pub queue: Duration,
}

impl LinkShape {
    /// A link of `mbit_s`, `rtt_ms` round trip, `loss_percent` loss and a
    /// 100 ms buffer.
    pub fn new(mbit_s: f64, rtt_ms: u64, loss_percent: f64) -> LinkShape {
        LinkShape {
            rate_bps: (mbit_s * 1e6) as u64,
            one_way_delay: Duration::from_millis(rtt_ms / 2),
            loss_percent,
            queue: Duration::from_millis(100),
        }
    }
}

/// What the link did, one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionCounters {
    pub frames_delivered: u64,
    pub bytes_delivered: u64,
    pub dropped_by_loss: u64,
    pub dropped_by_queue: u64,
    pub dropped_by_cut: u64,
    pub dropped_by_block: u64,
}

#[derive(Default)]
struct AtomicCounters {
    frames_delivered: AtomicU64,
    bytes_delivered: AtomicU64,
    dropped_by_loss: AtomicU64,
    dropped_by_queue: AtomicU64,
    dropped_by_cut: AtomicU64,
    dropped_by_block: AtomicU64,
}

impl AtomicCounters {
    fn read(&self) -> DirectionCounters {
        DirectionCounters {
            frames_delivered: self.frames_delivered.load(Ordering::Relaxed),
            bytes_delivered: self.bytes_delivered.load(Ordering::Relaxed),
            dropped_by_loss: self.dropped_by_loss.load(Ordering::Relaxed),
            dropped_by_queue: self.dropped_by_queue.load(Ordering::Relaxed),
            dropped_by_cut: self.dropped_by_cut.load(Ordering::Relaxed),
            dropped_by_block: self.dropped_by_block.load(Ordering::Relaxed),
        }
    }
}

/// State shared by the link's threads and the test.
struct Control {
    shape: Mutex<LinkShape>,
    cut: AtomicBool,
    /// UDP to or from this IPv4 address is dropped (a path that died while
    /// others live).
    blocked_udp: Mutex<Option<std::net::Ipv4Addr>>,
    stop: AtomicBool,
    a_to_b: AtomicCounters,
    b_to_a: AtomicCounters,
}

/// A running island link. Dropping it stops the threads and deletes both
/// namespaces (and so everything still running in them loses its network).
pub struct IslandLink {
    namespace_a: String,
    namespace_b: String,
    control: Arc<Control>,
    threads: Vec<JoinHandle<()>>,
}

impl IslandLink {
    /// Create the namespaces and the link, shaped as `shape`.
    pub fn start(shape: LinkShape) -> Result<IslandLink, NetemError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("khl{}-{n}", std::process::id());
        let namespace_a = format!("{base}-a");
        let namespace_b = format!("{base}-b");
        let control = Arc::new(Control {
            shape: Mutex::new(shape),
            cut: AtomicBool::new(false),
            blocked_udp: Mutex::new(None),
            stop: AtomicBool::new(false),
            a_to_b: AtomicCounters::default(),
            b_to_a: AtomicCounters::default(),
        });
        let mut link = IslandLink {
            namespace_a: namespace_a.clone(),
            namespace_b: namespace_b.clone(),
            control: control.clone(),
            threads: Vec::new(),
        };
        let tap_a = open_tap(&format!("{base}a"))?;
        let tap_b = open_tap(&format!("{base}b"))?;
        for (namespace, tap, address) in [
            (&namespace_a, &format!("{base}a"), ADDRESS_A),
            (&namespace_b, &format!("{base}b"), ADDRESS_B),
        ] {
            ip(&["netns", "add", namespace])?;
            ip(&["link", "set", tap, "netns", namespace])?;
            ip(&["-n", namespace, "link", "set", "lo", "up"])?;
            ip(&["-n", namespace, "link", "set", tap, "name", "link0"])?;
            ip(&[
                "-n",
                namespace,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                "link0",
            ])?;
            ip(&["-n", namespace, "link", "set", "link0", "up"])?;
        }
        let tap_a = Arc::new(tap_a);
        let tap_b = Arc::new(tap_b);
        for (from, to, which) in [
            (tap_a.clone(), tap_b.clone(), Direction::AToB),
            (tap_b, tap_a, Direction::BToA),
        ] {
            let seed = match which {
                Direction::AToB => 0x9e37_79b9_7f4a_7c15u64,
                Direction::BToA => 0xd1b5_4a32_d192_ed03u64,
            };
            let queue_in = Arc::new(InFlight {
                model: Mutex::new(LinkModel::new(shape, seed)),
                arrived: Condvar::new(),
            });
            let reader_control = control.clone();
            let reader_queue = queue_in.clone();
            link.threads.push(
                std::thread::Builder::new()
                    .name(format!("link-in-{which:?}"))
                    .spawn(move || admit(&from, &reader_queue, &reader_control, which))
                    .map_err(NetemError::Thread)?,
            );
            let writer_control = control.clone();
            link.threads.push(
                std::thread::Builder::new()
                    .name(format!("link-out-{which:?}"))
                    .spawn(move || deliver(&to, &queue_in, &writer_control, which))
                    .map_err(NetemError::Thread)?,
            );
        }
        Ok(link)
    }

    /// Run `program` inside side A's namespace.
    pub fn command_in_a(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        command_in(&self.namespace_a, program)
    }

    /// Run `program` inside side B's namespace.
    pub fn command_in_b(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        command_in(&self.namespace_b, program)
    }

    /// A UDP socket bound to `port` on side A's address (0: any port).
    pub fn udp_socket_in_a(&self, port: u16) -> std::net::UdpSocket {
        let address = format!("{ADDRESS_A}:{port}");
        self.spawn_in_a(move || bind_udp(&address))
            .join()
            .expect("making a socket in A")
    }

    /// A UDP socket bound to `port` on side B's address (0: any port).
    pub fn udp_socket_in_b(&self, port: u16) -> std::net::UdpSocket {
        let address = format!("{ADDRESS_B}:{port}");
        spawn_in(&self.namespace_b, move || bind_udp(&address))
            .join()
            .expect("making a socket in B")
    }

    /// Run `work` on a thread inside side A's namespace: every socket it
    /// makes (a server's listener, say) is on side A, whichever thread uses
    /// it later.
    pub fn spawn_in_a<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        spawn_in(&self.namespace_a, work)
    }

    /// Reshape the link; frames already queued keep their times.
    pub fn set_shape(&self, shape: LinkShape) {
        *self.control.shape.lock().expect("link shape") = shape;
    }

    /// Drop every UDP datagram to or from `address` (or stop): media on a
    /// path that died while TCP on the same address lives, as after a
    /// handover.
    pub fn block_udp(&self, address: Option<std::net::Ipv4Addr>) {
        *self.control.blocked_udp.lock().expect("blocked address") = address;
    }

    /// Give side B another address (a new interface after a handover).
    pub fn add_address_b(&self, address: &str) -> Result<(), NetemError> {
        ip(&[
            "-n",
            &self.namespace_b,
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            "link0",
        ])
    }

    /// Cut the link (every frame either way is lost) or restore it.
    pub fn set_cut(&self, cut: bool) {
        self.control.cut.store(cut, Ordering::Relaxed);
    }

    pub fn a_to_b(&self) -> DirectionCounters {
        self.control.a_to_b.read()
    }

    pub fn b_to_a(&self) -> DirectionCounters {
        self.control.b_to_a.read()
    }
}

impl Drop for IslandLink {
    fn drop(&mut self) {
        self.control.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        for namespace in [&self.namespace_a, &self.namespace_b] {
            let _ = Command::new("ip")
                .args(["netns", "del", namespace])
                .status();
        }
    }
}

fn command_in(namespace: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", namespace]).arg(program);
    command
}

/// A thread that enters `namespace` and runs `work`. setns changes only
/// the calling thread's namespace, and a socket stays in the namespace it
/// was made in.
#[allow(
    unsafe_code,
    reason = "network namespaces, poll and TAP devices are Linux system calls"
)]
fn spawn_in<T: Send + 'static>(
    namespace: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let handle = File::open(format!("/var/run/netns/{namespace}"))
        .unwrap_or_else(|e| panic!("namespace {namespace}: {e}"));
    std::thread::spawn(move || {
        // SAFETY: `handle` is an open network-namespace file for the whole
        // call; setns only changes this thread's namespace.
        let entered = unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) };
        assert!(entered == 0, "setns: {}", std::io::Error::last_os_error());
        work()
    })
}

fn bind_udp(address: &str) -> std::net::UdpSocket {
    std::net::UdpSocket::bind(address).unwrap_or_else(|e| panic!("binding {address}: {e}"))
}

fn ip(args: &[&str]) -> Result<(), NetemError> {
    let failed = |reason: String| NetemError::Ip {
        args: args.join(" "),
        reason,
    };
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| failed(format!("running ip (iproute2): {e}")))?;
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    AToB,
    BToA,
}

impl Direction {
    fn counters(self, control: &Control) -> &AtomicCounters {
        match self {
            Direction::AToB => &control.a_to_b,
            Direction::BToA => &control.b_to_a,
        }
    }
}

/// One direction's frames on the wire or in the bottleneck's buffer, as
/// the model keeps them, and word for the writer when one is added.
struct InFlight {
    model: Mutex<LinkModel<Vec<u8>>>,
    arrived: Condvar,
}

/// Read what one side sends; the model drops it or schedules its delivery.
fn admit(tap: &File, in_flight: &InFlight, control: &Control, direction: Direction) {
    let counters = direction.counters(control);
    let mut frame = vec![0u8; 65_536];
    while !control.stop.load(Ordering::Relaxed) {
        if !readable(tap, Duration::from_millis(50)) {
            continue;
        }
        let len = match (&*tap).read(&mut frame) {
            Ok(len) => len,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let now = Instant::now();
        if let Some(blocked) = *control.blocked_udp.lock().expect("blocked address")
            && is_udp_of(&frame[..len], blocked)
        {
            counters.dropped_by_block.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        // ARP is spared random loss: a lost ARP costs a second's retry in
        // the kernel and says nothing about the call.
        let is_arp = len >= 14 && frame[12..14] == [0x08, 0x06];
        let mut model = in_flight.model.lock().expect("the link model");
        model.shape = *control.shape.lock().expect("link shape");
        model.cut = control.cut.load(Ordering::Relaxed);
        match model.offer(now, len, frame[..len].to_vec(), is_arp) {
            Ok(_) => in_flight.arrived.notify_one(),
            Err(dropped) => count_drop(counters, dropped),
        }
    }
}

fn count_drop(counters: &AtomicCounters, dropped: Dropped) {
    let counter = match dropped {
        Dropped::Cut => &counters.dropped_by_cut,
        Dropped::Loss => &counters.dropped_by_loss,
        Dropped::Queue => &counters.dropped_by_queue,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Whether an Ethernet `frame` is IPv4 UDP from or to `address`.
fn is_udp_of(frame: &[u8], address: std::net::Ipv4Addr) -> bool {
    const IP: usize = 14;
    if frame.len() < IP + 20 || frame[12..14] != [0x08, 0x00] || frame[IP + 9] != 17 {
        return false;
    }
    let octets = address.octets();
    frame[IP + 12..IP + 16] == octets || frame[IP + 16..IP + 20] == octets
}

/// Write frames into the far side when their time comes.
fn deliver(tap: &File, in_flight: &InFlight, control: &Control, direction: Direction) {
    let counters = direction.counters(control);
    while !control.stop.load(Ordering::Relaxed) {
        let due = {
            let mut model = in_flight.model.lock().expect("the link model");
            loop {
                let now = Instant::now();
                model.cut = control.cut.load(Ordering::Relaxed);
                if let Some(arrived) = model.arrived(now) {
                    break arrived;
                }
                let wait = model
                    .next_arrival()
                    .map_or(Duration::from_millis(50), |at| {
                        at.saturating_duration_since(now)
                            .min(Duration::from_millis(50))
                    });
                model = in_flight.arrived.wait_timeout(model, wait).expect("wait").0;
                if control.stop.load(Ordering::Relaxed) {
                    return;
                }
            }
        };
        let frame = match due {
            Ok(frame) => frame,
            Err(dropped) => {
                // Cut while on the wire.
                count_drop(counters, dropped);
                continue;
            }
        };
        if (&*tap).write_all(&frame).is_ok() {
            counters.frames_delivered.fetch_add(1, Ordering::Relaxed);
            counters
                .bytes_delivered
                .fetch_add(frame.len() as u64, Ordering::Relaxed);
        }
    }
}

/// Whether `tap` has a frame to read within `timeout`.
#[allow(
    unsafe_code,
    reason = "network namespaces, poll and TAP devices are Linux system calls"
)]
fn readable(tap: &File, timeout: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd: tap.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `poll` reads and writes exactly one valid `pollfd` that lives
    // on this stack frame for the duration of the call.
    let ready = unsafe { libc::poll(&mut poll, 1, timeout.as_millis() as libc::c_int) };
    ready > 0 && poll.revents & libc::POLLIN != 0
}

/// `struct ifreq` as TUNSETIFF reads it: the name, the flags, and padding
/// to the union's size.
#[repr(C)]
struct InterfaceRequest {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _union_rest: [u8; 22],
}

/// A TAP interface called `name` in this namespace, its frames readable and
/// writable through the returned file. It lives as long as the file.
#[allow(
    unsafe_code,
    reason = "network namespaces, poll and TAP devices are Linux system calls"
)]
fn open_tap(name: &str) -> Result<File, NetemError> {
    assert!(
        name.len() < libc::IFNAMSIZ,
        "interface name {name} too long"
    );
    let tun = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(NetemError::Tun)?;
    let mut request = InterfaceRequest {
        name: [0; libc::IFNAMSIZ],
        flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short,
        _union_rest: [0; 22],
    };
    request.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads a `struct ifreq` (40 bytes on Linux: a
    // 16-byte name and a 24-byte union whose first member is the flags);
    // `InterfaceRequest` has that layout and outlives the call.
    let result = unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETIFF, &mut request) };
    if result != 0 {
        return Err(NetemError::TapInterface {
            name: name.to_owned(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(tun)
}
