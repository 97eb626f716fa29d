//! The test command's verdict: every check runs even after one fails, and
//! the run ends with one summary of what failed (the step, and each failed
//! test with the binary it is in), still exiting non-zero.
//!
//! `cargo test` runs with `--no-fail-fast`: one failing test binary must not
//! hide the verdict on every binary after it.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Write};
use std::process::Command;

/// Where cargo's test output is: which binary runs, and whether the
/// closing list of failed targets is being read.
#[derive(Default)]
struct CargoTestOutput {
    binary: String,
    in_target_list: bool,
}

impl CargoTestOutput {
    fn line(&mut self, line: &str, verdict: &mut Verdict) {
        let trimmed = line.trim();
        if let Some(running) = trimmed
            .strip_prefix("Running ")
            .or_else(|| trimmed.strip_prefix("Doc-tests "))
        {
            self.binary = running.to_owned();
        } else if let Some(name) = trimmed
            .strip_prefix("test ")
            .and_then(|t| t.strip_suffix(" ... FAILED"))
        {
            verdict
                .failed_tests
                .push((self.binary.clone(), name.to_owned()));
        } else if trimmed.starts_with("error:")
            && (trimmed.ends_with("targets failed:") || trimmed.ends_with("target failed:"))
        {
            // cargo's closing list, one `-p crate --test name` a line.
            self.in_target_list = true;
        } else if self.in_target_list && trimmed.starts_with('`') {
            verdict
                .failed_targets
                .push(trimmed.trim_matches('`').to_owned());
        } else {
            self.in_target_list = false;
        }
    }
}

/// What failed so far.
#[derive(Default)]
pub struct Verdict {
    /// A step and why it failed.
    failed_steps: Vec<(String, String)>,
    /// A test binary (as cargo names it when running it) and a test in it.
    failed_tests: Vec<(String, String)>,
    /// cargo's own list of failed targets, as `-p crate --test name`.
    failed_targets: Vec<String>,
}

impl Verdict {
    /// Run one step; a failure is kept for the summary.
    pub fn step(&mut self, name: &str, result: Result<()>) {
        if let Err(e) = result {
            eprintln!("xtask: {name} failed: {e:#}");
            self.failed_steps.push((name.to_owned(), format!("{e:#}")));
        }
    }

    /// Run `cargo test …` (which must carry `--no-fail-fast`), passing its
    /// output through and noting each failed test.
    pub fn cargo_test(&mut self, cmd: &mut Command) {
        let result = self.watch_tests(cmd);
        self.step("cargo test", result);
    }

    fn watch_tests(&mut self, cmd: &mut Command) -> Result<()> {
        eprintln!("xtask: {cmd:?}");
        // One pipe for both streams keeps cargo's "Running …" lines (stderr)
        // in order with the test results they head (stdout).
        let (reader, writer) = std::io::pipe().context("a pipe for cargo's output")?;
        cmd.stdout(writer.try_clone()?).stderr(writer);
        let mut child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        // The command holds the pipe's writing ends: dropped, or the reader
        // never sees the end.
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut reading = CargoTestOutput::default();
        let mut out = std::io::stdout().lock();
        for line in BufReader::new(reader).lines() {
            let line = line.context("reading cargo's output")?;
            let _ = writeln!(out, "{line}");
            reading.line(&line, self);
        }
        let status = child.wait()?;
        if !status.success() {
            bail!("exited with {status}");
        }
        Ok(())
    }

    /// Print the summary; an error when anything failed.
    pub fn finish(self) -> Result<()> {
        if self.failed_steps.is_empty() {
            eprintln!("xtask: all tests passed");
            return Ok(());
        }
        eprintln!("\nxtask: summary of what failed");
        for (step, why) in &self.failed_steps {
            let first_line = why.lines().next().unwrap_or_default();
            eprintln!("  {step}: {first_line}");
        }
        for (binary, test) in &self.failed_tests {
            eprintln!("    {test}   [{binary}]");
        }
        for target in &self.failed_targets {
            eprintln!("    rerun: cargo test {target}");
        }
        bail!(
            "{} of the checks failed ({} tests)",
            self.failed_steps.len(),
            self.failed_tests.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_tests_and_targets_are_read_from_cargos_output() {
        let output = "\
     Running tests/camera_v4l2.rs (target/debug/deps/camera_v4l2-1)
test a_v4l2_camera_is_listed_captured_and_sent_through_a_call ... FAILED
     Running tests/cli.rs (target/debug/deps/cli-2)
test info_is_json_with_the_promised_fields ... ok
   Doc-tests kh_slide
test crates/slide/src/lib.rs - (line 4) - compile ... FAILED
error: 2 targets failed:
    `-p kh-cli --test camera_v4l2`
    `-p kh-slide --doc`
";
        let mut verdict = Verdict::default();
        let mut reading = CargoTestOutput::default();
        for line in output.lines() {
            reading.line(line, &mut verdict);
        }
        assert_eq!(
            verdict.failed_tests,
            vec![
                (
                    "tests/camera_v4l2.rs (target/debug/deps/camera_v4l2-1)".to_owned(),
                    "a_v4l2_camera_is_listed_captured_and_sent_through_a_call".to_owned()
                ),
                (
                    "kh_slide".to_owned(),
                    "crates/slide/src/lib.rs - (line 4) - compile".to_owned()
                ),
            ]
        );
        assert_eq!(
            verdict.failed_targets,
            vec!["-p kh-cli --test camera_v4l2", "-p kh-slide --doc"]
        );
        verdict.step("cargo test", Err(anyhow::anyhow!("exited with 101")));
        assert!(verdict.finish().is_err());
    }

    #[test]
    fn nothing_failed_is_a_pass() {
        let mut verdict = Verdict::default();
        verdict.step("cargo fmt", Ok(()));
        assert!(verdict.finish().is_ok());
    }
}
