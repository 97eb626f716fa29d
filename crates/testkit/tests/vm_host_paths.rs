//! The QEMU guest of `kh_testkit::vm` sees the host's files wherever a
//! checkout lives — `/tmp` included — and its own writes stay in the guest
//! except through `$OUT`. A clone under /tmp once lost its binaries in the
//! guest, which mounted a fresh tmpfs over /tmp.

use std::time::Duration;

#[test]
fn a_binary_of_a_checkout_under_tmp_runs_in_the_guest() {
    // A "checkout" under /tmp holding a workspace binary: this test's own
    // executable, which lists its tests when asked.
    let checkout = tempfile::Builder::new()
        .prefix("kh-vm-checkout-")
        .tempdir_in("/tmp")
        .expect("a directory under /tmp");
    let bin_dir = checkout.path().join("target/debug");
    std::fs::create_dir_all(&bin_dir).expect("target/debug");
    let binary = bin_dir.join("probe");
    std::fs::copy(
        std::env::current_exe().expect("this test's binary"),
        &binary,
    )
    .expect("copying the binary");
    std::fs::write(checkout.path().join("marker.txt"), "seen from the guest\n").expect("marker");
    let guest_scratch = format!("{}/written-in-the-guest", checkout.path().display());

    let script = format!(
        r#"set -x
cat {checkout}/marker.txt > $OUT/marker.out
{binary} --list > $OUT/list.out
# The guest may write anywhere (in its own memory) ...
echo scratch > {guest_scratch}
cat {guest_scratch} > $OUT/scratch.out
touch $HOME/home-is-writable
"#,
        checkout = checkout.path().display(),
        binary = binary.display(),
    );
    let run = kh_testkit::vm::run(&[], &script, Duration::from_secs(300));
    assert_eq!(run.status, Some(0), "{}", run.describe());
    let read = |name: &str| std::fs::read_to_string(run.out.path().join(name)).unwrap_or_default();
    assert_eq!(
        read("marker.out"),
        "seen from the guest\n",
        "{}",
        run.describe()
    );
    assert!(
        read("list.out").contains("a_binary_of_a_checkout_under_tmp_runs_in_the_guest: test"),
        "the binary under /tmp did not run in the guest:\n{}",
        run.describe()
    );
    assert_eq!(read("scratch.out"), "scratch\n", "{}", run.describe());
    // ... and none of it reaches the host.
    assert!(
        !std::path::Path::new(&guest_scratch).exists(),
        "the guest wrote into the host's /tmp"
    );
}
