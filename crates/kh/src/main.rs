//! `kh`: the Kakehashi command-line tool, and the viewer process the
//! console starts (`kh view --ipc`). What the package installs; the
//! benchmarks are `kh-bench`, which it does not.

mod analyze_cmd;
mod annotations_cmd;
mod call_cmd;
mod call_meters;
mod call_sources;
mod camera_cmd;
mod cli_words;
mod doctor;
mod problem;
mod render_cmd;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, Subcommand};
use kh_i18n::tr;
use kh_slide::Slide;
use kh_viewer::png_file as png_out;
use std::ffi::OsString;
use std::path::PathBuf;

// kh's commands and arguments. Their help is not written here: every word
// of `--help` comes from the catalogue (`cli_words`, `cli-help.ftl`).
#[derive(Parser)]
#[command(name = "kh", version)]
struct Cli {
    /// Read before the parse (`cli_words::language_flag`); kept here so
    /// the parse accepts it and `--help` lists it.
    #[arg(long, global = true, value_parser = ["system", "ja", "en"])]
    language: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(subcommand)]
    Slide(SlideCommand),
    #[command(subcommand)]
    Annotations(annotations_cmd::AnnotationsCommand),
    Analyze(analyze_cmd::AnalyzeArgs),
    Render(render_cmd::RenderArgs),
    Call(Box<call_cmd::CallArgs>),
    #[command(subcommand)]
    Camera(camera_cmd::CameraCommand),
    Doctor(doctor::DoctorArgs),
    View {
        file: Option<PathBuf>,
        #[arg(long)]
        ipc: Option<PathBuf>,
        #[arg(long)]
        screenshots: Option<PathBuf>,
        #[arg(long)]
        size: Option<String>,
        #[arg(long)]
        budget_mib: Option<u64>,
        #[arg(long)]
        overlay_budget_mib: Option<u64>,
        #[arg(long)]
        tile_cache_mib: Option<u64>,
        #[arg(long)]
        max_picture: Option<String>,
        #[arg(long)]
        no_vsync: bool,
        #[arg(long = "annotations")]
        annotations: Vec<PathBuf>,
        #[arg(long)]
        own_annotations: Option<PathBuf>,
        #[arg(long)]
        author: Option<String>,
    },
}

#[derive(Subcommand)]
enum SlideCommand {
    Info {
        file: PathBuf,
    },
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
    Associated {
        file: PathBuf,
        name: String,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() {
    kh_log::init();
    quiet_on_closed_pipe();
    let args: Vec<OsString> = std::env::args_os().collect();
    choose_language(cli_words::language_flag(&args).as_deref());
    let words = kh_i18n::current();
    let command = cli_words::command_in_words(Cli::command(), &words);
    let cli: Cli = cli_words::parse_or_exit(command, args, &words);
    if let Err(e) = run(cli) {
        let problem = problem::problem_text(&e, &kh_i18n::current());
        let problem = kh_log::scrub(&problem).into_owned();
        eprintln!("{}", kh_i18n::tr!("cli-error", problem = problem));
        std::process::exit(1);
    }
}

/// `kh doctor | head` closes kh's stdout early: Rust's print macros then
/// panic ("failed printing to stdout: Broken pipe"). The reader took what
/// they wanted, so kh ends quietly, as a Unix tool killed by SIGPIPE does.
fn quiet_on_closed_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        previous(info);
    }));
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
        _ => bail!(tr!("cli-size-expected", flag = flag, size = size)),
    }
}

fn tile_missing(level: usize, col: u32, row: u32) -> String {
    tr!(
        "cli-tile-missing",
        level = level.to_string(),
        col = col.to_string(),
        row = row.to_string()
    )
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
                bail!(tr!("cli-size-at-least-one"));
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
                    .with_context(|| tile_missing(level, col, row))?;
                std::fs::write(&out, &tile.bytes)
                    .with_context(|| tr!("cli-writing", path = out.display().to_string()))?;
                let header = serde_json::json!({
                    "width": tile.width, "height": tile.height, "codec": tile.codec,
                    "bytes": tile.bytes.len(),
                });
                println!("{header}");
            } else {
                let tile = slide
                    .read_tile(level, col, row)?
                    .with_context(|| tile_missing(level, col, row))?;
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
