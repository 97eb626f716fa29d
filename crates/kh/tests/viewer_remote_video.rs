//! The call's remote video reaches the viewer as encoded frames over IPC
//! (as the console forwards them) and is decoded and drawn there: `kh view`
//! in a private Xvfb gets VP8 frames of a solid colour (BT.709 limited-range
//! blue), reports them shown at their size, and its window holds a block of
//! that blue as large as the picture is drawn. A frame of garbage is
//! reported as dropped with a keyframe request, and the video keeps going.

mod x11;

use kh_ipc::{FromViewer, Listener, ToViewer};
use kh_media::{EncoderConfig, VideoCodec, VideoEncoder, VideoFrame};
use std::time::{Duration, Instant};
use x11::{HEIGHT, KH, WAIT, WIDTH, Xvfb, read_png, wait_for};

#[test]
fn remote_video_frames_are_decoded_and_drawn_in_the_viewer() {
    let x = Xvfb::start();
    // The console's socket lives in a directory only we can enter.
    let dir = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .expect("a private tmp");
    let socket = dir.path().join("viewer.sock");
    let listener = Listener::bind(&socket).expect("listen");
    let mut child = x
        .command(KH)
        .arg("view")
        .arg("--ipc")
        .arg(&socket)
        .arg("--size")
        .arg(format!("{WIDTH}x{HEIGHT}"))
        .env("XDG_RUNTIME_DIR", dir.path())
        .spawn()
        .expect("kh view");
    let mut link = listener
        .accept_until(Instant::now() + WAIT, Some(child.id()), || true)
        .expect("accept")
        .expect("the viewer connects");
    let messages = x11::messages_from(&link);

    // Blue in BT.709 limited range: RGB (0, 0, 255) on screen.
    let (w, h) = (320u32, 240u32);
    let blue = VideoFrame::filled(w, h, 32, 240, 118);
    let mut encoder = VideoEncoder::new(EncoderConfig {
        codec: VideoCodec::Vp8,
        width: w,
        height: h,
        fps: 30,
        bitrate_kbps: 800,
        threads: 1,
    })
    .expect("VP8 encoder");
    // At a camera's pace, as a call delivers them: the viewer keeps only a
    // short queue and drops what arrives faster than it decodes.
    let send_frame = |link: &mut kh_ipc::Connection, encoder: &mut VideoEncoder| {
        for packet in encoder.encode(&blue).expect("encode") {
            link.send(&ToViewer::RemoteVideo {
                codec: VideoCodec::Vp8.mime().to_owned(),
                data: packet.data,
            })
            .expect("send");
        }
        std::thread::sleep(Duration::from_millis(33));
    };
    for _ in 0..10 {
        send_frame(&mut link, &mut encoder);
    }
    let shown = wait_for(&messages, "remote video shown", |m| {
        matches!(m, FromViewer::RemoteVideoShown { .. })
    });
    let FromViewer::RemoteVideoShown { width, height, .. } = shown else {
        unreachable!()
    };
    assert_eq!((width, height), (w, h));

    // Garbage in the stream: dropped, a keyframe asked for, no crash.
    link.send(&ToViewer::RemoteVideo {
        codec: VideoCodec::Vp8.mime().to_owned(),
        data: vec![0xff; 64],
    })
    .expect("send");
    wait_for(&messages, "a keyframe request", |m| {
        matches!(m, FromViewer::KeyframeWanted)
    });
    encoder.request_keyframe();
    for _ in 0..40 {
        send_frame(&mut link, &mut encoder);
    }
    // On a software renderer pictures may come faster than frames are
    // drawn: the newest wins and the others are counted late.
    let shown = wait_for(
        &messages,
        "30 pictures decoded",
        |m| matches!(m, FromViewer::RemoteVideoShown { decoded, .. } if *decoded >= 30),
    );
    let FromViewer::RemoteVideoShown {
        received,
        decoded,
        frames,
        late,
        dropped,
        ..
    } = shown
    else {
        unreachable!()
    };
    assert!(dropped >= 1, "the garbage frame is counted: {shown:?}");
    // No more decoded than arrived, and each picture decoded drawn, counted
    // late, or (the newest) still waiting.
    assert!(decoded <= received && received > 0, "{shown:?}");
    assert!(frames >= 1, "{shown:?}");
    assert!(
        frames + late <= decoded && decoded <= frames + late + 1,
        "{shown:?}"
    );

    // On screen: a block of the picture's blue, at least the picture's
    // drawn size (the window starts 480 points wide: 480x360).
    let window = x11::viewer_window(&x);
    let shot = dir.path().join("remote.png");
    let deadline = Instant::now() + WAIT;
    let blue_pixels = loop {
        x.run(
            "import",
            &[
                "-window",
                &window,
                "-depth",
                "8",
                &format!("PNG24:{}", shot.display()),
            ],
        );
        let (_, _, rgb) = read_png(&shot);
        let count = rgb
            .chunks_exact(3)
            .filter(|p| p[0] <= 3 && p[1] <= 3 && p[2] >= 252)
            .count();
        if count >= 400 * 300 || Instant::now() > deadline {
            break count;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        blue_pixels >= 400 * 300,
        "the remote picture is not on screen: {blue_pixels} blue pixels (see {})",
        shot.display()
    );

    // The call ends: the video goes, the viewer stays.
    link.send(&ToViewer::RemoteVideoEnded).expect("send");
    link.send(&ToViewer::Quit).expect("send");
    let status = child.wait().expect("wait");
    assert!(status.success(), "kh view exited {status}");
}
