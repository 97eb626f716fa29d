//! `kh-bench signal`: the signalling server under load on loopback — N
//! rooms of M peers joined and held, each peer pinging and chatting now and
//! then — with the join latency, the server's memory per room and its CPU,
//! and then the attack mix (half-header connections and non-reading floods
//! from two other addresses) with the join latency of legitimate clients
//! measured under it against the 1 s target. The legitimate peers come
//! from many loopback addresses, as a hospital's workstations do; each
//! attacker from one.

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use kakehashi_signal::{Role, TokenKey};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "signal bench secret, only on loopback";

#[derive(clap::Args)]
pub struct SignalBenchArgs {
    /// Rooms held.
    #[arg(long, default_value_t = 250)]
    rooms: usize,
    /// Peers in each room.
    #[arg(long, default_value_t = 2)]
    peers: usize,
    /// How long the rooms are held, seconds.
    #[arg(long, default_value_t = 60.0)]
    hold_seconds: f64,
    /// Half-header connections and non-reading floods in the attack.
    #[arg(long, default_value_t = 300)]
    attackers: usize,
    /// The signalling server binary (default: beside kh-bench).
    #[arg(long)]
    signal: Option<PathBuf>,
    /// Also write the results here.
    #[arg(long)]
    json: Option<PathBuf>,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// The server process, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(binary: &std::path::Path, rooms: usize) -> Result<Server> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("signal.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ntoken_secret = \"{SECRET}\"\n[limits]\nmax_rooms = {}\n",
                rooms.max(1) + 16
            ),
        )?;
        let mut child = Command::new(binary)
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let line = BufReader::new(child.stdout.take().context("server stdout")?)
            .lines()
            .next()
            .and_then(Result::ok)
            .unwrap_or_default();
        let Some(addr) = kakehashi_signal::address_from_listening_line(&line) else {
            bail!("the signalling server did not start: {line:?}");
        };
        Ok(Server {
            child,
            addr,
            _dir: dir,
        })
    }

    /// Resident memory, KiB, and CPU seconds (user + system) so far.
    fn usage(&self) -> (f64, f64) {
        let pid = self.child.id();
        let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(f64::NAN);
        let ticks = 100.0; // USER_HZ on Linux
        let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                // Fields after the command name (which may hold spaces).
                let rest = s.rsplit_once(')')?.1;
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let user: f64 = fields.get(11)?.parse().ok()?;
                let system: f64 = fields.get(12)?.parse().ok()?;
                Some((user + system) / ticks)
            })
            .unwrap_or(f64::NAN);
        (rss, cpu)
    }
}

/// A TCP connection from `from`, optionally with a tiny receive window.
fn tcp_from(
    from: Ipv4Addr,
    server: SocketAddr,
    receive_buffer: Option<usize>,
) -> Result<std::net::TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    if let Some(bytes) = receive_buffer {
        socket.set_recv_buffer_size(bytes)?;
    }
    socket.bind(&SocketAddr::from((from, 0)).into())?;
    socket.connect(&server.into())?;
    Ok(socket.into())
}

async fn websocket_from(
    from: Ipv4Addr,
    server: SocketAddr,
    receive_buffer: Option<usize>,
) -> Result<Socket> {
    let stream = tcp_from(from, server, receive_buffer)?;
    stream.set_nonblocking(true)?;
    let stream = tokio::net::TcpStream::from_std(stream)?;
    let (socket, _) = tokio_tungstenite::client_async(format!("ws://{server}/ws"), stream).await?;
    Ok(socket)
}

/// Join `room`; the socket and how long the welcome took.
async fn join(
    server: SocketAddr,
    from: Ipv4Addr,
    room: &str,
    role: Role,
) -> Result<(Socket, Duration)> {
    let token = TokenKey::new(SECRET.as_bytes())
        .issue(room, role, 3600, kakehashi_signal::token::unix_now())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let mut socket = websocket_from(from, server, None).await?;
    socket
        .send(Message::Text(
            json!({"type": "join", "version": 1, "token": token, "name": "bench"})
                .to_string()
                .into(),
        ))
        .await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if text.contains("\"welcome\"") => {
                return Ok((socket, started.elapsed()));
            }
            Ok(Some(Ok(Message::Text(text)))) => bail!("join refused: {text}"),
            Ok(Some(Ok(_))) => continue,
            _ => bail!("no welcome within 10 s"),
        }
    }
}

/// The legitimate peers' addresses: 50 to an address.
fn legit_source(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1 + (i / 50 / 250) as u8, 1 + ((i / 50) % 250) as u8)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

pub fn run(args: SignalBenchArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(args))
}

async fn bench(args: SignalBenchArgs) -> Result<()> {
    let binary = match &args.signal {
        Some(path) => path.clone(),
        None => crate::kh_beside()?.with_file_name("kakehashi-signal"),
    };
    let server = Server::start(&binary, args.rooms)?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (rss_empty, _) = server.usage();

    // Join every room's peers; each peer then reads what comes (the
    // others' joins, chat) and pings every 5 s, until the hold ends.
    let mut latencies = Vec::new();
    let mut held = Vec::new();
    let started = Instant::now();
    for room in 0..args.rooms {
        for peer in 0..args.peers {
            let role = if peer == 0 {
                Role::Presenter
            } else {
                Role::Specialist
            };
            let (socket, took) = join(
                server.addr,
                legit_source(room * args.peers + peer),
                &format!("bench-{room}"),
                role,
            )
            .await?;
            latencies.push(took.as_secs_f64() * 1e3);
            held.push(socket);
        }
    }
    let joining = started.elapsed();
    latencies.sort_by(f64::total_cmp);
    let (rss_full, cpu_before) = server.usage();
    let (stop, _) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for (i, mut socket) in held.into_iter().enumerate() {
        let mut stop = stop.subscribe();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            let mut n = 0u64;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        n += 1;
                        let message = if n.is_multiple_of(3) {
                            json!({"type": "chat", "text": format!("note {i}-{n}")})
                        } else {
                            json!({"type": "ping", "id": n})
                        };
                        if socket.send(Message::Text(message.to_string().into())).await.is_err() {
                            break;
                        }
                    }
                    message = socket.next() => if message.is_none() { break },
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.hold_seconds)).await;
    let (rss_held, cpu_after) = server.usage();
    let cpu_share = (cpu_after - cpu_before) / args.hold_seconds;

    // The attack mix, with legitimate joins under it.
    let attack_from = [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)];
    let mut half_headers = Vec::new();
    for _ in 0..args.attackers {
        if let Ok(mut stream) = tcp_from(attack_from[0], server.addr, None) {
            let _ = stream.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n");
            half_headers.push(stream);
        }
    }
    let mut floods = Vec::new();
    for _ in 0..args.attackers {
        if let Ok(socket) = websocket_from(attack_from[1], server.addr, Some(1024)).await {
            floods.push(socket);
        }
    }
    let flooding = floods.len();
    for mut socket in floods {
        let mut stop = stop.subscribe();
        tasks.push(tokio::spawn(async move {
            let frame = Message::Binary(vec![0x5a; 512].into());
            loop {
                tokio::select! {
                    sent = socket.send(frame.clone()) => if sent.is_err() { break },
                    _ = stop.changed() => break,
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let _ = stop.wait_for(|s| *s).await;
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut under_attack = Vec::new();
    for i in 0..10 {
        let (_socket, took) = join(
            server.addr,
            Ipv4Addr::new(127, 0, 2, 1 + i as u8),
            &format!("bench-attacked-{i}"),
            Role::Presenter,
        )
        .await?;
        under_attack.push(took.as_secs_f64() * 1e3);
    }
    under_attack.sort_by(f64::total_cmp);
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    drop(half_headers);

    let rooms = args.rooms as f64;
    let per_room_kib = (rss_full - rss_empty) / rooms.max(1.0);
    let worst_under_attack = under_attack.last().copied().unwrap_or(f64::NAN);
    let results = json!({
        "rooms": args.rooms,
        "peers_per_room": args.peers,
        "hold_seconds": args.hold_seconds,
        "join_ms_p50": percentile(&latencies, 0.5),
        "join_ms_p95": percentile(&latencies, 0.95),
        "join_ms_max": latencies.last(),
        "joining_all_s": joining.as_secs_f64(),
        "memory_empty_kib": rss_empty,
        "memory_per_room_kib": per_room_kib,
        "memory_after_hold_kib": rss_held,
        "cpu_share_of_a_core_while_held": cpu_share,
        "attack_half_headers": args.attackers,
        "attack_floods": flooding,
        "join_ms_under_attack_median": percentile(&under_attack, 0.5),
        "join_ms_under_attack_max": worst_under_attack,
        "join_under_attack_vs_target_1s": worst_under_attack / 1000.0,
    });
    println!("{}", serde_json::to_string_pretty(&results)?);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
