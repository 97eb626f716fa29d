//! What the console's tests share: a case desk over a real database and
//! real settings files in a folder of the test's.
// Each test file uses its own subset.
#![allow(dead_code)]

use kh_console::CaseDesk;
use kh_settings::{LoadedSettings, SettingsPaths};
use std::path::Path;

/// A desk in `dir` whose system settings are `system` plus the database
/// there and "Dr. Test" as the user.
pub fn desk(dir: &Path, system: &str) -> CaseDesk {
    let paths = SettingsPaths {
        system: dir.join("config.toml"),
        user: dir.join("user.toml"),
    };
    std::fs::write(
        &paths.system,
        format!(
            "{system}\n[cases]\ndatabase = \"{}\"\n[user]\ndisplay_name = \"Dr. Test\"\n",
            dir.join("cases.sqlite").display()
        ),
    )
    .expect("config");
    let settings = LoadedSettings::load_from(paths, |_| None).expect("settings");
    CaseDesk::open(settings).expect("desk")
}
