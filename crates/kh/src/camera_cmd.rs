//! `kh camera`: the cameras this workstation has, and a capture to a Y4M
//! file through the same path a call's `--send camera` uses (IT's check
//! that the camera works before a consultation).

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use kh_devices::camera::{Camera, CameraRequest, cameras};
use kh_i18n::tr;
use kh_media::y4m::{Y4mHeader, Y4mWriter};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum CameraCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    Capture(CaptureArgs),
}

#[derive(Args)]
pub struct CaptureArgs {
    #[arg(long, default_value = "default")]
    device: String,
    #[arg(long, default_value = "1280x720")]
    size: String,
    #[arg(long, default_value_t = 30)]
    fps: u32,
    #[arg(long, default_value_t = 30)]
    frames: u32,
    #[arg(long)]
    out: PathBuf,
}

pub fn run(command: CameraCommand) -> Result<()> {
    match command {
        CameraCommand::List { json } => list(json),
        CameraCommand::Capture(args) => capture(args),
    }
}

fn list(json: bool) -> Result<()> {
    let found = cameras();
    if json {
        let value: Vec<serde_json::Value> = found
            .iter()
            .map(|c| {
                serde_json::json!({
                    "path": c.path,
                    "name": c.name,
                    "driver": c.driver,
                    "bus": c.bus,
                    "modes": c.modes.iter().map(|m| serde_json::json!({
                        "fourcc": m.fourcc,
                        "supported": m.format.is_some(),
                        "width": m.width,
                        "height": m.height,
                        "fps": m.fps,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if found.is_empty() {
        println!("{}", kh_i18n::tr!("cli-no-cameras"));
    }
    for camera in found {
        println!(
            "{}  {}  ({}, {})",
            camera.path.display(),
            camera.name,
            camera.driver,
            camera.bus
        );
        for mode in &camera.modes {
            let note = if mode.format.is_some() {
                ""
            } else {
                "  (not read)"
            };
            println!("    {mode}{note}");
        }
    }
    Ok(())
}

fn capture(args: CaptureArgs) -> Result<()> {
    let (width, height) = crate::parse_size("--size", &args.size)?;
    if args.frames == 0 {
        bail!(tr!("cli-frames-zero"));
    }
    let camera = Camera::open(
        &args.device,
        CameraRequest {
            width,
            height,
            fps: args.fps,
        },
    )?;
    let mode = camera.mode().clone();
    eprintln!(
        "{}",
        kh_i18n::tr!(
            "cli-camera-opened",
            name = camera.info().name.as_str(),
            path = camera.info().path.display().to_string(),
            mode = mode.to_string()
        )
    );
    // Written beside the target and renamed over it when complete: an
    // interrupted capture leaves no half-written file.
    let dir = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let partial = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| tr!("cli-creating-file-in", dir = dir.display().to_string()))?;
    let fps = if mode.fps >= 1.0 {
        mode.fps.round() as u32
    } else {
        args.fps
    };
    let mut writer: Option<Y4mWriter<&std::fs::File>> = None;
    let started = Instant::now();
    let mut written = 0;
    while written < args.frames {
        let Some(frame) = camera.next_frame(Duration::from_secs(5))? else {
            bail!(tr!(
                "cli-camera-no-picture",
                path = camera.info().path.display().to_string(),
                seconds = "5",
                captured = written.to_string()
            ));
        };
        let out = match &mut writer {
            Some(w) => w,
            None => writer.insert(Y4mWriter::new(
                partial.as_file(),
                Y4mHeader {
                    width: frame.width,
                    height: frame.height,
                    fps_num: fps,
                    fps_den: 1,
                    colour: frame.colour,
                },
            )?),
        };
        out.write(&frame)?;
        written += 1;
    }
    if let Some(writer) = writer {
        writer.finish()?;
    }
    partial.as_file().sync_all()?;
    partial
        .persist(&args.out)
        .with_context(|| tr!("cli-writing", path = args.out.display().to_string()))?;
    let seconds = started.elapsed().as_secs_f64();
    let counters = camera.counters();
    eprintln!(
        "{}",
        kh_i18n::tr!(
            "cli-camera-captured",
            frames = written,
            seconds = format!("{seconds:.2}"),
            fps = format!("{:.1}", f64::from(written) / seconds),
            path = args.out.display().to_string(),
            captured = counters.captured,
            replaced = counters.overwritten
        )
    );
    Ok(())
}
