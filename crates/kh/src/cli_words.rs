//! kh's command line in the reader's language. clap's derive gives the
//! shape (commands, flags, values, defaults); the catalogue gives every
//! word of `--help` and of a usage error, so the argument structs carry no
//! help text of their own. Where a command or argument's words live:
//!
//! - a command: `cli-about-<path>`, the path being the subcommand names
//!   joined with `-` (`cli-about-slide-region`; the root is `kh`);
//! - an argument: `cli-arg-<path>-<id>` (`cli-arg-view-budget-mib`), with
//!   `_` of the id written `-`;
//! - headings, `-h`/`-V`, defaults and possible values, and the usage
//!   errors: fixed ids in `cli.ftl`.
//!
//! clap itself speaks English only (its headings, its `help` subcommand,
//! its error sentences), so this module replaces those parts rather than
//! translating clap's output: help and version flags are our own, the
//! `help` subcommand is off (`--help` works at every level), and a usage
//! error is written from the error's kind and context.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command, FromArgMatches};
use kh_i18n::Catalogue;
use std::ffi::OsString;

/// The id of the words for the command at `path`.
pub fn about_id(path: &str) -> String {
    format!("cli-about-{path}")
}

/// The id of the words for argument `id` of the command at `path`.
pub fn arg_id(path: &str, id: &str) -> String {
    format!("cli-arg-{path}-{}", id.replace('_', "-"))
}

#[cfg(test)]
/// Every id `command`'s tree needs, commands first then their arguments
/// (the flags this module adds are fixed ids, not listed).
pub fn ids_needed(command: &Command) -> Vec<String> {
    fn walk(command: &Command, path: &str, out: &mut Vec<String>) {
        out.push(about_id(path));
        for arg in command.get_arguments() {
            // A global argument is described where it is declared.
            if !arg.is_global_set() || path == "kh" {
                out.push(arg_id(path, arg.get_id().as_str()));
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, &child_path(path, sub.get_name()), out);
        }
    }
    let mut out = Vec::new();
    walk(command, "kh", &mut out);
    out
}

fn child_path(path: &str, name: &str) -> String {
    if path == "kh" {
        name.to_owned()
    } else {
        format!("{path}-{name}")
    }
}

/// `command` with the catalogue's words in `catalogue`'s language.
pub fn command_in_words(command: Command, catalogue: &Catalogue) -> Command {
    words_for(command, "kh", catalogue)
}

fn words_for(command: Command, path: &str, catalogue: &Catalogue) -> Command {
    let usage = catalogue.text("cli-heading-usage");
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{usage} {{usage}}\n\n{{all-args}}{{after-help}}"
    );
    let is_root = path == "kh";
    let mut command = command
        .about(catalogue.text(&about_id(path)))
        .long_about(None)
        .help_template(template)
        .subcommand_help_heading(catalogue.text("cli-heading-commands"))
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .mut_args(|arg| {
            if arg.is_global_set() && !is_root {
                return arg;
            }
            let id = arg_id(path, arg.get_id().as_str());
            arg_in_words(arg, &id, catalogue)
        })
        .arg(own_flag("help", 'h', ArgAction::Help, catalogue))
        .mut_subcommands(|sub| {
            let sub_path = child_path(path, sub.get_name());
            words_for(sub, &sub_path, catalogue)
        });
    if is_root {
        command = command.disable_version_flag(true).arg(own_flag(
            "version",
            'V',
            ArgAction::Version,
            catalogue,
        ));
    }
    command
}

/// `-h, --help` or `-V, --version` in words (clap's own say "Print help").
fn own_flag(name: &'static str, short: char, action: ArgAction, catalogue: &Catalogue) -> Arg {
    Arg::new(name)
        .short(short)
        .long(name)
        .action(action)
        .help(catalogue.text(&format!("cli-arg-{name}")))
        .help_heading(catalogue.text("cli-heading-options"))
}

/// One argument's help from the catalogue, with its default and possible
/// values said in the same language (clap's own `[default: …]` is hidden).
fn arg_in_words(mut arg: Arg, id: &str, catalogue: &Catalogue) -> Arg {
    let mut help = catalogue.text(id);
    let takes_values = arg.get_action().takes_values();
    if takes_values && !arg.is_hide_possible_values_set() {
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|value| !value.is_hide_set())
            .map(|value| value.get_name().to_owned())
            .collect();
        if !values.is_empty() {
            help.push(' ');
            help.push_str(
                &catalogue.text_with("cli-help-values", [("values", values.join(", ").into())]),
            );
            arg = arg.hide_possible_values(true);
        }
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|value| value.to_string_lossy().into_owned())
        .collect();
    if takes_values && !defaults.is_empty() && !arg.is_hide_default_value_set() {
        help.push(' ');
        help.push_str(
            &catalogue.text_with("cli-help-default", [("value", defaults.join(", ").into())]),
        );
        arg = arg.hide_default_value(true);
    }
    let heading = if arg.is_positional() {
        "cli-heading-arguments"
    } else {
        "cli-heading-options"
    };
    arg.help(help)
        .long_help(None)
        .help_heading(catalogue.text(heading))
}

/// The language `--language` names in `args`, read before parsing so
/// that the help and the errors of the parse are already in it.
pub fn language_flag(args: &[OsString]) -> Option<String> {
    let mut args = args.iter().map(|arg| arg.to_string_lossy());
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == "--language" {
            return args.next().map(|value| value.into_owned());
        }
        if let Some(value) = arg.strip_prefix("--language=") {
            return Some(value.to_owned());
        }
    }
    None
}

/// Parses `args` into `T` with `command` (already in words); help and
/// version print and exit 0, a usage error prints in `words`' language
/// and exits 2, as clap's own would.
pub fn parse_or_exit<T: FromArgMatches>(
    command: Command,
    args: Vec<OsString>,
    words: &Catalogue,
) -> T {
    let error = match command
        .try_get_matches_from(args)
        .and_then(|matches| T::from_arg_matches(&matches))
    {
        Ok(parsed) => return parsed,
        Err(error) => error,
    };
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Help asked for (or a command named without its subcommand):
            // clap renders the tree we put into words.
            let _ = error.print();
            std::process::exit(error.exit_code());
        }
        _ => {
            eprintln!("{}", usage_error_text(&error, words));
            std::process::exit(2);
        }
    }
}

/// What a usage error says, in `words`' language: the problem, the
/// usage line of the command it concerns, and where to read more.
pub fn usage_error_text(error: &clap::Error, words: &Catalogue) -> String {
    let text = |kind: ContextKind| error.get(kind).map(context_text);
    let arg = text(ContextKind::InvalidArg).unwrap_or_default();
    let value = text(ContextKind::InvalidValue).unwrap_or_default();
    let mut problem = match error.kind() {
        ErrorKind::InvalidValue if value.is_empty() => {
            words.text_with("cli-parse-value-missing", [("arg", arg.into())])
        }
        ErrorKind::InvalidValue => words.text_with(
            "cli-parse-invalid-value",
            [("arg", arg.into()), ("value", value.into())],
        ),
        ErrorKind::ValueValidation => {
            let reason = std::error::Error::source(error)
                .map(|source| reason_text(source, words))
                .unwrap_or_default();
            words.text_with(
                "cli-parse-value-refused",
                [
                    ("arg", arg.into()),
                    ("value", value.into()),
                    ("reason", reason.into()),
                ],
            )
        }
        ErrorKind::UnknownArgument => {
            words.text_with("cli-parse-unknown-argument", [("arg", arg.into())])
        }
        ErrorKind::InvalidSubcommand => words.text_with(
            "cli-parse-unknown-command",
            [(
                "command",
                text(ContextKind::InvalidSubcommand)
                    .unwrap_or_default()
                    .into(),
            )],
        ),
        ErrorKind::MissingSubcommand => words.text("cli-parse-missing-command"),
        ErrorKind::MissingRequiredArgument => {
            words.text_with("cli-parse-missing-argument", [("arg", arg.into())])
        }
        ErrorKind::ArgumentConflict => words.text_with(
            "cli-parse-conflict",
            [
                ("arg", arg.into()),
                (
                    "other",
                    text(ContextKind::PriorArg).unwrap_or_default().into(),
                ),
            ],
        ),
        ErrorKind::NoEquals => words.text_with("cli-parse-no-equals", [("arg", arg.into())]),
        ErrorKind::TooManyValues | ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            words.text_with("cli-parse-value-count", [("arg", arg.into())])
        }
        ErrorKind::InvalidUtf8 => words.text("cli-parse-not-utf8"),
        // Io and Format (writing the help failed) and kinds added later:
        // clap's sentence is all there is.
        _ => error.kind().as_str().unwrap_or("?").to_owned(),
    };
    let suggestion = text(ContextKind::SuggestedArg)
        .or_else(|| text(ContextKind::SuggestedSubcommand))
        .or_else(|| text(ContextKind::SuggestedValue));
    if let Some(suggestion) = suggestion {
        problem.push_str(&words.text_with(
            "cli-parse-did-you-mean",
            [("suggestion", suggestion.into())],
        ));
    }
    let valid = text(ContextKind::ValidValue).or_else(|| text(ContextKind::ValidSubcommand));
    if let Some(valid) = valid.filter(|_| error.kind() != ErrorKind::UnknownArgument) {
        problem.push_str(&words.text_with("cli-parse-valid-values", [("values", valid.into())]));
    }
    let mut out = words.text_with("cli-error", [("problem", problem.into())]);
    // clap's usage context is "Usage: kh …"; the line after the heading
    // is notation, not English, and is kept.
    if let Some(usage) = text(ContextKind::Usage) {
        let line = usage.trim().trim_start_matches("Usage:").trim();
        out.push_str(&format!("\n\n{} {line}", words.text("cli-heading-usage")));
    }
    out.push_str(&format!("\n\n{}", words.text("cli-parse-more")));
    out
}

/// Why a value was refused: the number parsers' reasons in words, any
/// other reason as it is.
fn reason_text(source: &(dyn std::error::Error + 'static), words: &Catalogue) -> String {
    use std::num::{IntErrorKind, ParseFloatError, ParseIntError};
    if let Some(int) = source.downcast_ref::<ParseIntError>() {
        return match int.kind() {
            IntErrorKind::PosOverflow => words.text("cli-parse-too-large"),
            IntErrorKind::NegOverflow => words.text("cli-parse-too-small"),
            _ => words.text("cli-parse-not-a-whole-number"),
        };
    }
    if source.is::<ParseFloatError>() {
        return words.text("cli-parse-not-a-number");
    }
    // clap's ranged integer parsers say "V is not in LOW..=HIGH"; anything
    // else stays as it was said.
    let said = source.to_string();
    let range = said
        .split_once(" is not in ")
        .and_then(|(_, range)| range.split_once("..="));
    match range {
        Some((low, high)) => words.text_with(
            "cli-parse-out-of-range",
            [("low", low.into()), ("high", high.into())],
        ),
        None => said,
    }
}

fn context_text(value: &ContextValue) -> String {
    match value {
        ContextValue::String(text) => text.clone(),
        ContextValue::Strings(texts) => texts.join(", "),
        ContextValue::StyledStr(text) => text.to_string(),
        ContextValue::StyledStrs(texts) => texts
            .iter()
            .map(|text| text.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        ContextValue::Number(number) => number.to_string(),
        ContextValue::Bool(yes) => yes.to_string(),
        ContextValue::None => String::new(),
        // ContextValue is non-exhaustive.
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kh_i18n::{FILES, Language};
    use std::collections::BTreeSet;

    fn tree() -> Command {
        <crate::Cli as clap::CommandFactory>::command()
    }

    /// A command's help as clap renders it, in `language`.
    fn help_of(path: &[&str], language: Language) -> String {
        let mut command = command_in_words(tree(), &Catalogue::new(language));
        command.build();
        let mut at = &mut command;
        for name in path {
            at = at.find_subcommand_mut(name).expect("a subcommand");
        }
        at.render_help().to_string()
    }

    #[test]
    fn every_command_and_argument_has_words_in_both_languages() {
        for language in Language::ALL {
            let words = Catalogue::new(language);
            let missing: Vec<_> = ids_needed(&tree())
                .into_iter()
                .filter(|id| !words.has(id))
                .collect();
            assert!(missing.is_empty(), "{language:?} lacks {missing:?}");
        }
    }

    #[test]
    fn the_catalogue_describes_no_command_or_argument_that_is_gone() {
        let needed: BTreeSet<String> = ids_needed(&tree()).into_iter().collect();
        let file = FILES
            .iter()
            .find(|f| f.name == "cli-help")
            .expect("cli-help");
        let stale: Vec<_> = file
            .english
            .lines()
            .filter_map(|line| line.split_once(" = ").map(|(id, _)| id))
            .filter(|id| id.starts_with("cli-about-") || id.starts_with("cli-arg-"))
            .filter(|id| !["cli-arg-help", "cli-arg-version"].contains(id))
            .filter(|id| !needed.contains(*id))
            .collect();
        assert!(stale.is_empty(), "described but not in kh: {stale:?}");
    }

    #[test]
    fn japanese_help_has_no_english_of_claps() {
        for path in [&[][..], &["slide", "region"], &["render"], &["view"]] {
            let help = help_of(path, Language::Japanese);
            for english in [
                "Usage:",
                "Options:",
                "Arguments:",
                "Commands:",
                "Print help",
            ] {
                assert!(!help.contains(english), "{path:?}: {english}\n{help}");
            }
            for heading in ["使い方:", "オプション:"] {
                assert!(help.contains(heading), "{path:?}: no {heading}\n{help}");
            }
            // Every argument carries words: after its name, or on the next
            // line where clap puts long help.
            let lines: Vec<&str> = help.lines().collect();
            for (at, line) in lines.iter().enumerate() {
                let line = line.trim();
                if !line.starts_with('-') {
                    continue;
                }
                let beside = line
                    .split_once("  ")
                    .is_some_and(|(_, w)| !w.trim().is_empty());
                let below = lines.get(at + 1).map(|l| l.trim());
                let below = below.is_some_and(|l| !l.is_empty() && !l.starts_with('-'));
                assert!(beside || below, "{path:?}: bare {line}");
            }
        }
        let region = help_of(&["slide", "region"], Language::Japanese);
        assert!(
            region.contains("読むレベル（0：最高解像度） [既定値：0]"),
            "{region}"
        );
        let english = help_of(&["slide", "region"], Language::English);
        assert!(english.contains("The level to read (0: full resolution) [default: 0]"));
    }

    /// The error a parse of `args` gives, in `language`.
    fn error_of(args: &[&str], language: Language) -> String {
        let words = Catalogue::new(language);
        let args = std::iter::once("kh").chain(args.iter().copied());
        let error = command_in_words(tree(), &words)
            .try_get_matches_from(args)
            .expect_err("a usage error");
        usage_error_text(&error, &words)
    }

    #[test]
    fn usage_errors_say_what_is_wrong_in_the_readers_language() {
        let ja = Language::Japanese;
        let misspelt = error_of(&["slide", "regoin"], ja);
        assert!(
            misspelt.contains("'regoin' というコマンドはありません"),
            "{misspelt}"
        );
        assert!(misspelt.contains("'region' のことですか"), "{misspelt}");
        assert!(misspelt.contains("使い方: kh slide"), "{misspelt}");
        let not_a_number = error_of(
            &[
                "slide", "region", "f", "--x", "a", "--y", "0", "--width", "1", "--height", "1",
                "--out", "o",
            ],
            ja,
        );
        assert!(
            not_a_number
                .contains("'a' は --x <X> に指定できる値ではありません：整数ではありません"),
            "{not_a_number}"
        );
        let too_wide = error_of(
            &[
                "slide",
                "region",
                "f",
                "--x",
                "0",
                "--y",
                "0",
                "--width",
                "5000000000",
                "--height",
                "1",
                "--out",
                "o",
            ],
            ja,
        );
        assert!(
            too_wide.contains("0 から 4294967295 までの値にしてください"),
            "{too_wide}"
        );
        let language = error_of(&["--language", "jp", "doctor"], ja);
        assert!(
            language.contains("指定できる値：system, ja, en"),
            "{language}"
        );
        let missing = error_of(&["slide", "region", "f"], ja);
        assert!(missing.contains("次の指定が必要です：--x <X>"), "{missing}");
        for error in [misspelt, not_a_number, too_wide, language, missing] {
            assert!(
                !error.contains("error:") && !error.contains("Usage:"),
                "{error}"
            );
        }
        let english = error_of(&["slide", "region", "f", "--bogus"], Language::English);
        assert!(
            english.starts_with("kh: error: there is no argument '--bogus' here"),
            "{english}"
        );
    }

    #[test]
    fn the_language_flag_is_read_before_the_parse() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            language_flag(&args(&["kh", "--language", "ja", "doctor"])).as_deref(),
            Some("ja")
        );
        assert_eq!(
            language_flag(&args(&["kh", "doctor", "--language=en"])).as_deref(),
            Some("en")
        );
        assert_eq!(
            language_flag(&args(&["kh", "view", "--", "--language"])),
            None
        );
        assert_eq!(language_flag(&args(&["kh", "doctor"])), None);
    }
}
