//! `kh doctor` against real parts: a signalling server and coturn on
//! loopback, a managed system file that locks fields, a user file, and a
//! case database with a case in it.

mod call_common;

use call_common::{coturn, free_udp_port, server_with, ws_url};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const KH: &str = env!("CARGO_BIN_EXE_kh");

async fn doctor(dir: &Path, extra: &[&str]) -> Output {
    let (system, user, home) = (
        dir.join("etc/config.toml"),
        dir.join("user/settings.toml"),
        dir.join("home"),
    );
    let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(KH)
            // What it says in English unless the test asks otherwise,
            // whatever this machine's locale.
            .env("KAKEHASHI_UI_LANGUAGE", "en")
            .arg("doctor")
            .args(&args)
            .args(["--timeout", "1"])
            .env("KAKEHASHI_SYSTEM_CONFIG", system)
            .env("KAKEHASHI_USER_CONFIG", user)
            .env("HOME", home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            // A root shell on a server: no runtime folder (Mesa complains)
            // and, in CI, no sound devices (ALSA and JACK complain).
            .env_remove("XDG_RUNTIME_DIR")
            .output()
            .expect("kh doctor")
    })
    .await
    .expect("join")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(path, text).expect("write");
}

fn setting<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["settings"]["values"]
        .as_array()
        .expect("values")
        .iter()
        .find(|row| row["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_sources_locks_reachability_and_the_case_database() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = server_with(|_| {}).await;
    let turn_port = free_udp_port();
    let _coturn = coturn(turn_port, &dir.path().join("coturn.log"));
    // Nothing listens here: its STUN check must fail, naming it.
    let silent_port = free_udp_port();
    let database = dir.path().join("data/cases.sqlite");
    {
        let mut store = kh_cases::CaseStore::open(&database).expect("store");
        store
            .create_case(&kh_cases::CaseDetails::default(), "it")
            .expect("case");
    }
    write(
        &dir.path().join("etc/config.toml"),
        &format!(
            r#"locked = ["signalling"]
[signalling]
url = "{}"
[turn]
urls = ["turn:127.0.0.1:{turn_port}?transport=udp", "turn:127.0.0.1:{turn_port}?transport=tcp", "stun:127.0.0.1:{silent_port}"]
[cases]
database = "{}"
"#,
            ws_url(&server),
            database.display()
        ),
    );
    write(
        &dir.path().join("user/settings.toml"),
        "[signalling]\nurl = \"ws://127.0.0.1:1/ws\"\n[cache]\ntile_cache_mib = 2048\n",
    );

    let out = doctor(dir.path(), &["--json"]).await;
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.code(), Some(1), "a failed check fails the run");

    // Settings: the locked system value stands, the user's own applies.
    let url = setting(&report, "signalling.url");
    assert_eq!(url["value"], ws_url(&server));
    assert_eq!(url["source"]["kind"], "system");
    assert_eq!(url["locked"], true);
    let cache = setting(&report, "cache.tile_cache_mib");
    assert_eq!(
        (cache["value"].as_i64(), &cache["source"]["kind"]),
        (Some(2048), &Value::from("user"))
    );
    assert_eq!(setting(&report, "gpu.backend")["source"]["kind"], "default");
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("signalling.url is locked"), "{warnings}");

    // Reachability, as a call would find it.
    let signalling = &report["signalling"];
    assert!(signalling["error"].is_null(), "{signalling}");
    assert!(
        signalling["round_trip_ms"].as_f64().is_some(),
        "{signalling}"
    );
    let ice = report["ice_servers"].as_array().expect("ice");
    for check in &ice[..2] {
        assert!(check["error"].is_null(), "{check}");
        let mapped = check["mapped_address"]
            .as_str()
            .expect("coturn says where we are");
        assert!(mapped.starts_with("127.0.0.1:"), "{check}");
    }
    let silent = ice[2]["error"].as_str().expect("the silent server fails");
    assert!(
        silent.contains("no STUN answer") || silent.contains("refused"),
        "{silent}"
    );
    let problems = report["problems"].to_string();
    assert!(
        problems.contains(&format!("stun:127.0.0.1:{silent_port}")),
        "{problems}"
    );

    // The GPU the viewer would use, and the case database, unchanged.
    assert!(
        report["gpu"]["chosen"].as_str().is_some(),
        "{}",
        report["gpu"]
    );
    // Each codec path says what does the work and, in software, why not
    // hardware (VA-API among the reasons).
    let codecs = &report["video_codecs"];
    let paths = codecs["encoders"]
        .as_array()
        .expect("encoders")
        .iter()
        .chain(codecs["decoders"].as_array().expect("decoders"));
    let mut checked = 0;
    for path in paths {
        let what = path["implementation"].as_str().expect("implementation");
        let vaapi_tried = what.contains("VA-API") || what.contains("vaapi");
        assert!(
            path["hardware"] == true || (what.contains("not hardware:") && vaapi_tried),
            "{path}"
        );
        checked += 1;
    }
    // The H.264 and HEVC encoders and a decoder for each of the five codecs.
    assert_eq!(checked, 7, "{codecs}");
    assert_eq!(codecs["encoders"][1]["codec"], "video/H265", "{codecs}");
    assert_eq!(codecs["encoders"][1]["picture"], "8K30", "{codecs}");
    let db = &report["case_database"]["report"];
    assert_eq!(db["cases"], 1, "{db}");
    assert_eq!(db["integrity"][0], "ok");

    // Fixed: no problems, a readable text report, status 0.
    write(
        &dir.path().join("etc/config.toml"),
        &format!(
            "locked = [\"signalling\"]\n[signalling]\nurl = \"{}\"\n[cases]\ndatabase = \"{}\"\n",
            ws_url(&server),
            database.display()
        ),
    );
    let out = doctor(dir.path(), &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("No problems found."), "{text}");
    assert!(text.contains("1 cases, integrity ok"), "{text}");
    assert!(text.contains("encode H265 8K30"), "{text}");
    // What the probed libraries say about missing devices goes to the
    // log, not the terminal: the report is all IT reads.
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.trim().is_empty(), "kh doctor's stderr:\n{said}");
    // The same report for a Japanese reader.
    let out = doctor(dir.path(), &["--language", "ja"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for said in [
        "架け橋 ",
        "— 診断",
        "問題は見つかりませんでした。",
        "症例 1 件、整合性 ok",
        "符号化 H265 8K30",
        "（固定）",
        // The user's overruled value, in the reader's words too.
        "の signalling.url は",
        "で固定されているため、ユーザーの値は使われません。",
    ] {
        assert!(text.contains(said), "{said} is not in\n{text}");
    }

    // A signalling server that is gone is named with the reason.
    server.shutdown().await;
    let out = doctor(dir.path(), &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL") && text.contains("signalling"),
        "{text}"
    );
}

#[tokio::test]
async fn doctor_names_a_broken_settings_file() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        &dir.path().join("etc/config.toml"),
        "[cache]\ntile_cache_mib = \"big\"\n",
    );
    let out = doctor(dir.path(), &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("config.toml") && text.contains("cache.tile_cache_mib"),
        "{text}"
    );
}
