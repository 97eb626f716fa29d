//! Settings files on disk, as IT and users write them.

use kh_settings::*;
use std::collections::HashMap;
use std::path::Path;

fn paths(dir: &Path) -> SettingsPaths {
    SettingsPaths {
        system: dir.join("etc/kakehashi/config.toml"),
        user: dir.join("home/.config/kakehashi/settings.toml"),
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(path, text).expect("write");
}

fn load(paths: &SettingsPaths, env: &[(&str, &str)]) -> Result<LoadedSettings, SettingsError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    LoadedSettings::load_from(paths.clone(), |name| env.get(name).cloned())
}

#[test]
fn with_no_files_the_defaults_apply() {
    let dir = tempfile::tempdir().expect("tmp");
    let loaded = load(&paths(dir.path()), &[]).expect("load");
    assert_eq!(loaded.settings, Settings::default());
    assert!(loaded.warnings.is_empty());
    assert!(
        loaded
            .report()
            .iter()
            .all(|r| r.source == Source::Default && !r.locked)
    );
}

#[test]
fn it_sets_and_locks_users_fill_in_the_rest_and_each_value_says_where_it_came_from() {
    let dir = tempfile::tempdir().expect("tmp");
    let paths = paths(dir.path());
    write(
        &paths.system,
        r#"
        locked = ["signalling.url", "turn"]
        [signalling]
        url = "wss://signal.hospital.example/ws"
        [turn]
        urls = ["turn:turn.hospital.example:3478"]
        [cache]
        tile_cache_mib = 2048
        "#,
    );
    write(
        &paths.user,
        r#"
        [signalling]
        url = "ws://127.0.0.1:9/ws"
        [cache]
        tile_cache_mib = 4096
        [devices]
        audio_in = "USB Headset"
        "#,
    );
    let loaded = load(
        &paths,
        &[
            ("KAKEHASHI_TURN_URLS", "stun:elsewhere:3478"),
            ("KAKEHASHI_GPU_BACKEND", "gl"),
        ],
    )
    .expect("load");
    let s = &loaded.settings;
    // Locked: the system's values stand against the user and the environment.
    assert_eq!(s.signalling.url, "wss://signal.hospital.example/ws");
    assert_eq!(s.turn.urls, ["turn:turn.hospital.example:3478"]);
    assert!(loaded.is_locked("signalling.url") && loaded.is_locked("turn.urls"));
    // Not locked: the user overrides the system, the environment the user.
    assert_eq!(s.cache.tile_cache_mib, 4096);
    assert_eq!(s.devices.audio_in, "USB Headset");
    assert_eq!(s.gpu.backend, GpuBackend::Gl);
    assert_eq!(
        loaded.source("signalling.url"),
        Some(&Source::System {
            path: paths.system.clone()
        })
    );
    assert_eq!(
        loaded.source("cache.tile_cache_mib"),
        Some(&Source::User {
            path: paths.user.clone()
        })
    );
    assert_eq!(
        loaded.source("gpu.backend"),
        Some(&Source::Environment {
            variable: "KAKEHASHI_GPU_BACKEND".into()
        })
    );
    assert_eq!(loaded.source("devices.camera"), Some(&Source::Default));
    // The overruled user value and environment are said, not silent.
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.to_string().contains("signalling.url is locked")),
        "{:?}",
        loaded.warnings
    );
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.to_string().contains("KAKEHASHI_TURN_URLS"))
    );
    let report = loaded.report();
    let url = report
        .iter()
        .find(|r| r.key == "signalling.url")
        .expect("row");
    assert!(url.locked);
    assert_eq!(url.value, "wss://signal.hospital.example/ws");
}

#[test]
fn a_user_cannot_set_a_locked_field_and_other_fields_are_saved_whole() {
    let dir = tempfile::tempdir().expect("tmp");
    let paths = paths(dir.path());
    write(
        &paths.system,
        "locked = [\"signalling\"]\n[signalling]\nurl = \"wss://a.example/ws\"\n",
    );
    let mut loaded = load(&paths, &[]).expect("load");
    let err = loaded
        .set_user("signalling.url", toml::Value::String("ws://evil/ws".into()))
        .expect_err("locked");
    assert!(matches!(err, SettingsError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("config.toml"), "{err}");
    assert!(!paths.user.exists(), "nothing written for a refused change");

    loaded
        .set_user(
            "user.display_name",
            toml::Value::String("Dr. Island".into()),
        )
        .expect("set");
    loaded
        .set_user("cache.gpu_budget_mib", toml::Value::Integer(512))
        .expect("set");
    assert_eq!(loaded.settings.user.display_name, "Dr. Island");
    // The file holds exactly what the user set, and loads back the same.
    let text = std::fs::read_to_string(&paths.user).expect("user file");
    assert!(
        text.contains("display_name") && text.contains("gpu_budget_mib"),
        "{text}"
    );
    assert!(!text.contains("tile_cache_mib"), "{text}");
    let again = load(&paths, &[]).expect("reload");
    assert_eq!(again.settings, loaded.settings);
    // No temporary file left beside it.
    let left: Vec<_> = std::fs::read_dir(paths.user.parent().expect("dir"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, ["settings.toml"]);

    let err = loaded
        .set_user("cache.tile_cache_mib", toml::Value::String("lots".into()))
        .expect_err("type");
    assert!(err.to_string().contains("cache.tile_cache_mib"), "{err}");
    let err = loaded
        .set_user("no.such", toml::Value::Boolean(true))
        .expect_err("unknown");
    assert!(matches!(err, SettingsError::UnknownKey { .. }), "{err}");
}

#[test]
fn bad_files_are_named_with_the_key_and_the_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let paths = paths(dir.path());

    write(&paths.system, "[signalling\nurl = ");
    let err = load(&paths, &[]).expect_err("syntax");
    assert!(err.to_string().contains("config.toml"), "{err}");

    write(&paths.system, "[cache]\ntile_cache_mib = \"big\"\n");
    let err = load(&paths, &[]).expect_err("type");
    let text = err.to_string();
    assert!(
        text.contains("config.toml") && text.contains("cache.tile_cache_mib"),
        "{text}"
    );

    write(&paths.system, "[signalling]\nurl = \"http://x\"\n");
    let err = load(&paths, &[]).expect_err("scheme");
    assert!(err.to_string().contains("signalling.url"), "{err}");

    write(
        &paths.system,
        "[analysis]\nmodels = [\"models/tumour.onnx\"]\n",
    );
    let err = load(&paths, &[]).expect_err("relative model path");
    assert!(
        err.to_string().contains("analysis.models") && err.to_string().contains("tumour.onnx"),
        "{err}"
    );
    write(
        &paths.system,
        "locked = [\"analysis.models\"]\n[analysis]\nmodels = [\"/opt/models/tumour.onnx\"]\n",
    );
    let loaded = load(&paths, &[]).expect("an approved model");
    assert_eq!(loaded.settings.analysis.models, ["/opt/models/tumour.onnx"]);
    assert!(loaded.is_locked("analysis.models") && loaded.warnings.is_empty());

    write(&paths.system, "locked = \"turn\"\n");
    let err = load(&paths, &[]).expect_err("lock list");
    assert!(err.to_string().contains("locked must be a list"), "{err}");

    write(&paths.system, "[gpu]\nbackend = \"vulkan\"\n");
    write(&paths.user, "[gpu]\nbackend = \"glide\"\n");
    let err = load(&paths, &[]).expect_err("enum");
    let text = err.to_string();
    assert!(
        text.contains("settings.toml") && text.contains("gpu.backend"),
        "{text}"
    );

    std::fs::remove_file(&paths.user).expect("rm");
    let err = load(&paths, &[("KAKEHASHI_CACHE_TILE_CACHE_MIB", "many")]).expect_err("env");
    assert!(
        err.to_string().contains("KAKEHASHI_CACHE_TILE_CACHE_MIB"),
        "{err}"
    );
}

#[test]
fn unknown_keys_and_empty_locks_are_warnings_not_failures() {
    let dir = tempfile::tempdir().expect("tmp");
    let paths = paths(dir.path());
    write(
        &paths.system,
        "locked = [\"signaling.url\"]\n[future]\nfeature = true\n[devices]\nspeaker = \"x\"\n",
    );
    let loaded = load(&paths, &[]).expect("load");
    let all = loaded
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("future.feature is not a setting"), "{all}");
    assert!(all.contains("devices.speaker is not a setting"), "{all}");
    assert!(all.contains("\"signaling.url\" names no setting"), "{all}");
}

#[test]
fn every_setting_has_an_environment_variable() {
    assert_eq!(env_variable("signalling.url"), "KAKEHASHI_SIGNALLING_URL");
    assert_eq!(
        env_variable("cache.tile_cache_mib"),
        "KAKEHASHI_CACHE_TILE_CACHE_MIB"
    );
}

#[test]
fn plain_ws_to_another_machine_is_refused_unless_explicitly_allowed_and_then_said() {
    let dir = tempfile::tempdir().expect("tmp");
    let paths = paths(dir.path());
    for url in [
        "ws://signal.hospital.example/ws",
        "ws://192.0.2.10:8443/ws",
        "ws://[2001:db8::1]:8080/ws",
        "ws://user@10.0.0.1/ws",
    ] {
        write(&paths.user, &format!("[signalling]\nurl = {url:?}\n"));
        let refused = load(&paths, &[]);
        assert!(
            matches!(&refused, Err(SettingsError::Invalid { key, reason, .. })
                if key == "signalling.url" && reason.contains("unencrypted")),
            "{url}: {:?}",
            refused.err()
        );
    }
    // This machine, or TLS: fine, and nothing to warn about.
    for url in [
        "ws://127.0.0.1:8080/ws",
        "ws://localhost/ws",
        "ws://[::1]:9/ws",
        "wss://signal.hospital.example/ws",
    ] {
        write(&paths.user, &format!("[signalling]\nurl = {url:?}\n"));
        let loaded = load(&paths, &[]).expect(url);
        assert!(loaded.warnings.is_empty(), "{url}: {:?}", loaded.warnings);
    }
    // The development override works, and is said every time it does.
    write(
        &paths.user,
        "[signalling]\nurl = \"ws://192.0.2.10/ws\"\nallow_plain_ws_for_development = true\n",
    );
    let loaded = load(&paths, &[]).expect("allowed");
    assert!(
        loaded.warnings.iter().any(
            |w| matches!(w, SettingsWarning::PlainWebSocket { url } if url.contains("192.0.2.10"))
                && w.to_string().contains("unencrypted")
        ),
        "{:?}",
        loaded.warnings
    );
    // IT can lock it off: the user's override is then not used.
    write(
        &paths.system,
        "locked = [\"signalling.allow_plain_ws_for_development\"]\n",
    );
    assert!(matches!(
        load(&paths, &[]),
        Err(SettingsError::Invalid { key, .. }) if key == "signalling.url"
    ));
    // Nor through the environment.
    assert!(matches!(
        load(
            &paths,
            &[("KAKEHASHI_SIGNALLING_ALLOW_PLAIN_WS_FOR_DEVELOPMENT", "true")]
        ),
        Err(SettingsError::Invalid { key, .. }) if key == "signalling.url"
    ));
}

#[test]
fn a_value_the_user_sets_keeps_the_environments_overrides() {
    let dir = tempfile::tempdir().expect("tmp");
    let paths = paths(dir.path());
    let mut loaded = load(&paths, &[("KAKEHASHI_UI_LANGUAGE", "ja")]).expect("load");
    assert_eq!(loaded.settings.ui.language, "ja");
    loaded.set_user_text("ui.theme", "dark").expect("theme");
    assert_eq!(loaded.settings.ui.theme, "dark");
    assert_eq!(
        loaded.settings.ui.language, "ja",
        "the environment still rules"
    );
    assert_eq!(
        loaded.source("ui.language"),
        Some(&Source::Environment {
            variable: "KAKEHASHI_UI_LANGUAGE".into()
        })
    );
}

#[test]
fn the_language_and_theme_take_only_their_values() {
    let dir = tempfile::tempdir().expect("tmp");
    let paths = paths(dir.path());
    let mut loaded = load(&paths, &[]).expect("load");
    for (key, good, bad) in [("ui.language", "en", "fr"), ("ui.theme", "light", "blue")] {
        loaded.set_user_text(key, good).expect("a good value");
        let err = loaded.set_user_text(key, bad).expect_err("a bad value");
        assert!(err.to_string().contains(key), "{err}");
    }
}
