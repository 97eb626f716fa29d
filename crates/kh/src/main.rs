//! `kh`: the Kakehashi command-line tool, and the viewer process the
//! console starts (`kh view --ipc`). What the package installs; the
//! benchmarks are `kh-bench`, which it does not.

mod analyze_cmd;
mod annotations_cmd;
mod call_cmd;
mod call_meters;
mod call_sources;
mod camera_cmd;
mod doctor;
mod render_cmd;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use kh_slide::Slide;
use kh_viewer::png_file as png_out;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "kh", version, about = "Kakehashi command-line tool")]
struct Cli {
    /// The language kh and its viewer speak: system, ja or en (default: the
    /// `ui.language` setting, else the system's locale).
    #[arg(long, global = true, value_parser = ["system", "ja", "en"])]
    language: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Whole-slide images: metadata, regions, tiles, associated images.
    #[command(subcommand)]
    Slide(SlideCommand),
    /// Annotation files (QuPath GeoJSON, ASAP XML, DICOM ANN): what they hold, and
    /// converting between them.
    #[command(subcommand)]
    Annotations(annotations_cmd::AnnotationsCommand),
    /// Run an analysis on a slide (tissue detection) and write what it
    /// finds as QuPath GeoJSON; progress on stderr.
    Analyze(analyze_cmd::AnalyzeArgs),
    /// Draw a view of a slide offscreen with the viewer's GPU renderer (no
    /// display needed) and write it as PNG.
    Render(render_cmd::RenderArgs),
    /// Join a call as a headless peer: send a stamped test pattern (or a
    /// Y4M file) and a tone, measure what arrives, report JSON.
    Call(Box<call_cmd::CallArgs>),
    /// The workstation's cameras (V4L2): what each offers, and a capture
    /// to a Y4M file through the path a call sends from.
    #[command(subcommand)]
    Camera(camera_cmd::CameraCommand),
    /// What this workstation has and where its settings came from: GPU,
    /// settings with their sources and locks, signalling and STUN/TURN
    /// reachability, audio devices, cameras, the case database. Exits 1
    /// when a check finds a problem.
    Doctor(doctor::DoctorArgs),
    /// Open the viewer window (optionally on a slide, driven by a console
    /// listening at --ipc).
    View {
        file: Option<PathBuf>,
        /// The console's local socket to connect to.
        #[arg(long)]
        ipc: Option<PathBuf>,
        /// The folder screenshots are written to (the console's requests
        /// name a file in it; without it they are refused).
        #[arg(long)]
        screenshots: Option<PathBuf>,
        /// Window size in physical pixels, WIDTHxHEIGHT.
        #[arg(long)]
        size: Option<String>,
        /// GPU memory for tiles in MiB (default: from the adapter).
        #[arg(long)]
        budget_mib: Option<u64>,
        /// GPU memory for annotation layers together, in MiB (default:
        /// 1024).
        #[arg(long)]
        overlay_budget_mib: Option<u64>,
        /// Decoded tiles kept in memory, in MiB (default: 256).
        #[arg(long)]
        tile_cache_mib: Option<u64>,
        /// The largest remote-video picture decoded, WIDTHxHEIGHT (default
        /// 8192x8192, 8192x4608 pixels in all).
        #[arg(long)]
        max_picture: Option<String>,
        /// Present without vsync (frame-rate measurements).
        #[arg(long)]
        no_vsync: bool,
        /// Draw an annotation file (QuPath GeoJSON, ASAP XML, DICOM ANN) over the
        /// slide; repeat for more layers.
        #[arg(long = "annotations")]
        annotations: Vec<PathBuf>,
        /// The specialist's own annotations: read if the file exists, and
        /// written (atomically, as QuPath GeoJSON) after every change made
        /// with the drawing tools (P polygon, B rectangle, E ellipse,
        /// D freehand, T point; Ctrl+Z / Ctrl+Y undo and redo).
        #[arg(long)]
        own_annotations: Option<PathBuf>,
        /// Who draws: the name their annotations carry as provenance
        /// (default: the login name).
        #[arg(long)]
        author: Option<String>,
    },
}

#[derive(Subcommand)]
enum SlideCommand {
    /// Print format, levels, resolution, associated images and properties as JSON.
    Info { file: PathBuf },
    /// Write a region (x, y in level-0 pixels; width x height of LEVEL) as an RGBA PNG.
    Region {
        file: PathBuf,
        #[arg(long, default_value_t = 0)]
        level: usize,
        #[arg(long, allow_hyphen_values = true)]
        x: i64,
        #[arg(long, allow_hyphen_values = true)]
        y: i64,
        #[arg(long)]
        width: u32,
        #[arg(long)]
        height: u32,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write one tile: decoded as PNG, or with --encoded as stored (JSON header line + bytes).
    Tile {
        file: PathBuf,
        #[arg(long, default_value_t = 0)]
        level: usize,
        #[arg(long)]
        col: u32,
        #[arg(long)]
        row: u32,
        #[arg(long)]
        encoded: bool,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write an associated image (label, macro, thumbnail) as PNG.
    Associated {
        file: PathBuf,
        name: String,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() {
    kh_log::init();
    let cli = Cli::parse();
    choose_language(cli.language.as_deref());
    if let Err(e) = run(cli) {
        let problem = kh_log::scrub(&format!("{e:#}")).into_owned();
        eprintln!("{}", kh_i18n::tr!("cli-error", problem = problem));
        std::process::exit(1);
    }
}

/// The language from `--language`, else the `ui.language` setting (when
/// the settings can be read: `kh doctor` says why when they cannot), else
/// the system's.
fn choose_language(flag: Option<&str>) {
    let chosen = match flag {
        Some(flag) => Some(flag.to_owned()),
        None => kh_settings::LoadedSettings::load()
            .ok()
            .map(|loaded| loaded.settings.ui.language),
    };
    let choice = chosen
        .as_deref()
        .and_then(kh_i18n::LanguageChoice::parse)
        .unwrap_or(kh_i18n::LanguageChoice::System);
    kh_i18n::set_language(choice.resolve());
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Slide(cmd) => slide(cmd),
        Command::Annotations(cmd) => annotations_cmd::run(cmd),
        Command::Analyze(args) => analyze_cmd::run(args),
        Command::Render(args) => render_cmd::run(args),
        Command::Call(args) => call_cmd::run(*args),
        Command::Camera(cmd) => camera_cmd::run(cmd),
        Command::Doctor(args) => doctor::run(args),
        Command::View {
            file,
            ipc,
            screenshots,
            size,
            budget_mib,
            overlay_budget_mib,
            tile_cache_mib,
            max_picture,
            no_vsync,
            annotations,
            own_annotations,
            author,
        } => {
            let picture_limit = max_picture
                .as_deref()
                .map(|s| parse_size("--max-picture", s))
                .transpose()?
                .map(|(w, h)| kh_media::PictureLimit::from_sides(w, h));
            let size = size
                .as_deref()
                .map(|s| parse_size("--size", s))
                .transpose()?;
            kh_viewer::run(kh_viewer::ViewerArgs {
                slide: file,
                ipc,
                screenshots,
                size,
                budget_bytes: budget_mib.map(|m| m << 20),
                overlay_budget_bytes: overlay_budget_mib.map(|m| m.saturating_mul(1 << 20)),
                cache_bytes: tile_cache_mib.map(|m| m << 20),
                picture_limit,
                no_vsync,
                annotations,
                own_annotations,
                author,
            })
        }
    }
}

/// A `WIDTHxHEIGHT` argument, both at least 1.
fn parse_size(flag: &str, size: &str) -> Result<(u32, u32)> {
    match size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
    {
        Some((w, h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => bail!("{flag} {size:?}: expected WIDTHxHEIGHT"),
    }
}

fn slide(cmd: SlideCommand) -> Result<()> {
    match cmd {
        SlideCommand::Info { file } => {
            let slide = Slide::open(&file)?;
            println!("{}", serde_json::to_string_pretty(&slide.info())?);
        }
        SlideCommand::Region {
            file,
            level,
            x,
            y,
            width,
            height,
            out,
        } => {
            if width == 0 || height == 0 {
                bail!("--width and --height must be at least 1");
            }
            let slide = Slide::open(&file)?;
            let region = slide.read_region(x, y, level, width, height)?;
            png_out::write_rgba(&out, region.width, region.height, &region.pixels)?;
        }
        SlideCommand::Tile {
            file,
            level,
            col,
            row,
            encoded,
            out,
        } => {
            let slide = Slide::open(&file)?;
            if encoded {
                let tile = slide
                    .read_tile_encoded(level, col, row)?
                    .with_context(|| format!("level {level} tile ({col}, {row}) is missing"))?;
                std::fs::write(&out, &tile.bytes)
                    .with_context(|| format!("writing {}", out.display()))?;
                let header = serde_json::json!({
                    "width": tile.width, "height": tile.height, "codec": tile.codec,
                    "bytes": tile.bytes.len(),
                });
                println!("{header}");
            } else {
                let tile = slide
                    .read_tile(level, col, row)?
                    .with_context(|| format!("level {level} tile ({col}, {row}) is missing"))?;
                png_out::write_rgba(&out, tile.width, tile.height, &tile.rgba)?;
            }
        }
        SlideCommand::Associated { file, name, out } => {
            let slide = Slide::open(&file)?;
            let image = slide.read_associated(&name)?;
            png_out::write_rgba(&out, image.width, image.height, &image.pixels)?;
        }
    }
    Ok(())
}
