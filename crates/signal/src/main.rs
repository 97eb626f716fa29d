//! `kakehashi-signal serve | token`.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use kakehashi_signal::{Config, Role, Server, TokenKey};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "kakehashi-signal",
    version,
    about = "Kakehashi signalling server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server from a TOML config (environment variables
    /// KAKEHASHI_SIGNAL_* override it), or on loopback from flags alone.
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen address (overrides the file).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Token secret for a quick loopback start without a file.
        #[arg(long, env = "KAKEHASHI_SIGNAL_TOKEN_SECRET", hide_env_values = true)]
        token_secret: Option<String>,
    },
    /// Issue a room token.
    Token {
        #[arg(long)]
        room: String,
        /// specialist, presenter or observer.
        #[arg(long)]
        role: String,
        /// Lifetime: seconds, or with a unit: 90s, 30m, 2h, 1d.
        #[arg(long, default_value = "2h")]
        ttl: String,
        /// Participants of this role the room may hold when this token
        /// joins (default: one presenter, one specialist).
        #[arg(long)]
        seats: Option<u16>,
        /// Read the token secret from this config.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, env = "KAKEHASHI_SIGNAL_TOKEN_SECRET", hide_env_values = true)]
        token_secret: Option<String>,
    },
}

fn parse_ttl(text: &str) -> Result<u64> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .with_context(|| format!("--ttl {text:?}: expected e.g. 90s, 30m, 2h"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => bail!("--ttl {text:?}: the unit must be s, m, h or d"),
    };
    match n.checked_mul(scale) {
        Some(s) if s > 0 => Ok(s),
        _ => bail!("--ttl {text:?} is out of range"),
    }
}

fn load(
    path: Option<&PathBuf>,
    secret: Option<String>,
    listen: Option<SocketAddr>,
) -> Result<Config> {
    let mut config = match (path, secret) {
        (Some(path), Some(secret)) => {
            // The flag (or its environment variable) wins over the file.
            let mut config = Config::load(path)?;
            config.token_secret = secret;
            config
        }
        (Some(path), None) => Config::load(path)?,
        (None, Some(secret)) => Config::loopback(
            listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443))),
            secret,
        ),
        (None, None) => bail!("give --config FILE, or --token-secret for a loopback start"),
    };
    config.override_from(|name| std::env::var(name).ok())?;
    if let Some(listen) = listen {
        config.listen = listen;
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(kh_log::env_filter("info"))
        .json()
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve {
            config,
            listen,
            token_secret,
        } => {
            let config = load(config.as_ref(), token_secret, listen)?;
            // Handlers first: a SIGTERM that arrives just after "listening"
            // is printed must still stop the server gracefully.
            let stop = stop_signal()?;
            let server = Server::start(config).await?;
            // The bound address on stdout, for scripts and tests that ask
            // for port 0.
            println!("{}", kakehashi_signal::listening_line(server.addr));
            stop.await?;
            server.shutdown().await;
            Ok(())
        }
        Command::Token {
            room,
            role,
            ttl,
            seats,
            config,
            token_secret,
        } => {
            let role = Role::parse(&role)
                .with_context(|| format!("--role {role:?}: specialist, presenter or observer"))?;
            let ttl = parse_ttl(&ttl)?;
            let config = load(config.as_ref(), token_secret, None)?;
            config.validate()?;
            if ttl > config.max_token_ttl_s {
                bail!(
                    "--ttl {ttl} s: the server accepts tokens of at most {} s (max_token_ttl_s)",
                    config.max_token_ttl_s
                );
            }
            let token = TokenKey::new(config.token_secret.as_bytes()).issue_seated(
                &room,
                role,
                ttl,
                seats,
                kakehashi_signal::token::unix_now(),
            )?;
            println!("{token}");
            Ok(())
        }
    }
}

/// SIGTERM or SIGINT, with both handlers installed before this returns.
fn stop_signal() -> Result<impl std::future::Future<Output = Result<()>>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping on signal");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn ttls_with_units() {
        assert_eq!(super::parse_ttl("2h").ok(), Some(7200));
        assert_eq!(super::parse_ttl("90").ok(), Some(90));
        assert!(super::parse_ttl("0s").is_err());
        assert!(super::parse_ttl("2w").is_err());
        assert!(super::parse_ttl("h").is_err());
    }
}
