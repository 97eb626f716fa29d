//! What a hostile client controls on the signalling server: the text of
//! its messages (parsed, then played into a room with a peer) and the
//! token it presents.
#![no_main]
use kakehashi_signal::protocol::{ClientMessage, Role, parse_client};
use kakehashi_signal::rooms::{RoomLimits, Rooms};
use kakehashi_signal::token::{Claims, TokenKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let key = TokenKey::new(b"fuzzing secret 0123456789");
    let _ = key.verify(&text, 1_800_000_000);
    let claims = Claims {
        room: "r".into(),
        role: Role::Presenter,
        iat: 0,
        exp: u64::MAX,
        jti: "j".into(),
    };
    let mut rooms = Rooms::new(RoomLimits::default());
    rooms.join(1, &claims, 1, "a", |_| Vec::new());
    rooms.join(2, &claims, 1, "b", |_| Vec::new());
    for line in text.lines() {
        match parse_client(line) {
            Ok(ClientMessage::Join { version, name, .. }) => {
                rooms.join(3, &claims, version, &name, |_| Vec::new());
            }
            Ok(message) => {
                rooms.handle(2, message, 0);
            }
            Err(_) => {}
        }
    }
    rooms.leave(2);
    rooms.leave(1);
});
