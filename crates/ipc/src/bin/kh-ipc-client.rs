//! A small test client playing the console's side: listens on a socket,
//! optionally spawns the viewer pointed at it, sends each JSON line read from
//! stdin (a `ToViewer` message, e.g. `{"type":"set_view","view":{...}}`) and
//! prints every message the viewer sends as a JSON line.
//!
//!     kh-ipc-client SOCKET [VIEWER-COMMAND ARGS...]

use kh_ipc::{FromViewer, Listener, ToViewer};
use std::io::BufRead;
use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        eprintln!("kh-ipc-client: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let socket = PathBuf::from(
        args.next()
            .ok_or("usage: kh-ipc-client SOCKET [VIEWER-COMMAND ARGS...]")?,
    );
    let listener = Listener::bind(&socket)?;
    let viewer: Vec<_> = args.collect();
    let child = match viewer.split_first() {
        Some((program, rest)) => Some(
            std::process::Command::new(program)
                .args(rest)
                .arg("--ipc")
                .arg(&socket)
                .spawn()?,
        ),
        None => None,
    };
    // Only the viewer it started, when it started one.
    let mut connection = listener.accept(child.as_ref().map(std::process::Child::id))?;
    let mut reader = connection.try_clone()?;
    std::thread::spawn(move || {
        while let Ok(msg) = reader.recv::<FromViewer>() {
            match serde_json::to_string(&msg) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("kh-ipc-client: {e}"),
            }
        }
    });
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let msg: ToViewer = serde_json::from_str(&line)?;
        connection.send(&msg)?;
    }
    Ok(())
}
