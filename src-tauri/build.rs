fn main() {
    // The front end is compiled TypeScript under ui/public (xtask builds
    // it); embed the latest.
    println!("cargo:rerun-if-changed=../ui/public");
    tauri_build::build()
}
