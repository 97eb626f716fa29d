//! The island-link emulator measured from inside its namespaces: the
//! round trip, the rate, the loss and a cut are what it was told.

use kh_netem::{ADDRESS_A, ADDRESS_B, IslandLink, LinkShape};
use std::time::{Duration, Instant};

/// Round trips of small datagrams, B echoing what A sends.
fn round_trips(link: &IslandLink, count: usize, wait: Duration) -> Vec<Option<Duration>> {
    let a = link.udp_socket_in_a(0);
    let b = link.udp_socket_in_b(0);
    let b_address = b.local_addr().expect("b's address");
    let echo = std::thread::spawn(move || {
        // Ends a second after the last echo.
        b.set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        while let Ok((len, from)) = b.recv_from(&mut buf) {
            b.send_to(&buf[..len], from).expect("echo");
        }
    });
    a.set_read_timeout(Some(wait)).expect("timeout");
    let mut rtts = Vec::new();
    for i in 0..count as u32 {
        let sent = Instant::now();
        a.send_to(&i.to_be_bytes(), b_address).expect("send");
        let mut buf = [0u8; 64];
        let mut got = None;
        while let Ok((len, _)) = a.recv_from(&mut buf) {
            if len == 4 && buf[..4] == i.to_be_bytes() {
                got = Some(sent.elapsed());
                break;
            }
        }
        rtts.push(got);
    }
    echo.join().expect("echo thread");
    rtts
}

#[test]
fn the_link_delays_limits_loses_and_cuts_as_told() {
    kh_testkit::needs::island_link();
    let link = IslandLink::start(LinkShape::new(20.0, 60, 0.0)).expect("island link");
    assert!(ADDRESS_A != ADDRESS_B);

    // Delay: 60 ms round trip (plus scheduling, never less).
    let rtts: Vec<Duration> = round_trips(&link, 20, Duration::from_millis(300))
        .into_iter()
        .flatten()
        .collect();
    assert!(rtts.len() >= 19, "{} of 20 echoes came back", rtts.len());
    let mut ms: Vec<f64> = rtts.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    assert!(ms[0] >= 59.0, "a round trip beat the delay: {ms:?}");
    assert!(median < 75.0, "median round trip {median:.1} ms for 60 ms");

    // Rate: a 2 s flood at 60 Mbit/s arrives at about 20 Mbit/s, the rest
    // dropped at the bottleneck.
    let a = link.udp_socket_in_a(0);
    let b = link.udp_socket_in_b(0);
    let b_address = b.local_addr().expect("b's address");
    let receiver = std::thread::spawn(move || {
        b.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let mut buf = [0u8; 2048];
        let mut bytes = 0u64;
        let mut first: Option<Instant> = None;
        let mut last = Instant::now();
        while let Ok(len) = b.recv(&mut buf) {
            first.get_or_insert_with(Instant::now);
            last = Instant::now();
            bytes += len as u64;
        }
        (bytes, first.map(|f| last - f))
    });
    let payload = [0u8; 1200];
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        // 60 Mbit/s in 1200-byte datagrams: one per 160 µs.
        let due = Duration::from_micros(160) * sent as u32;
        if start.elapsed() < due {
            std::thread::yield_now();
            continue;
        }
        let _ = a.send_to(&payload, b_address);
        sent += 1;
    }
    let (bytes, span) = receiver.join().expect("receiver");
    let span = span.expect("nothing arrived").as_secs_f64();
    let mbit_s = bytes as f64 * 8.0 / span / 1e6;
    assert!(
        (17.0..=21.0).contains(&mbit_s),
        "{mbit_s:.1} Mbit/s through a 20 Mbit/s link"
    );
    assert!(link.a_to_b().dropped_by_queue > 0, "{:?}", link.a_to_b());

    // Loss: 10 % of small datagrams each way ≈ 19 % of round trips.
    link.set_shape(LinkShape::new(20.0, 2, 10.0));
    let lost = round_trips(&link, 200, Duration::from_millis(40))
        .iter()
        .filter(|r| r.is_none())
        .count();
    assert!(
        (18..=60).contains(&lost),
        "{lost} of 200 round trips lost at 10 % each way"
    );

    // A cut loses everything; the link comes back when restored.
    link.set_shape(LinkShape::new(20.0, 2, 0.0));
    link.set_cut(true);
    assert!(
        round_trips(&link, 3, Duration::from_millis(40))
            .iter()
            .all(Option::is_none)
    );
    link.set_cut(false);
    assert!(
        round_trips(&link, 3, Duration::from_millis(200))
            .iter()
            .all(Option::is_some)
    );
}
