//! Rooms, sans-IO: connections join, send, and leave; the result is a list
//! of messages to deliver and connections to close. The server feeds it
//! from sockets; tests feed it directly.

use crate::protocol::{
    ClientMessage, ErrorCode, IceServer, PROTOCOL_VERSION, Participant, Role, ServerMessage,
};
use crate::token::Claims;
use std::collections::HashMap;

/// One WebSocket connection, numbered by the server.
pub type ConnId = u64;

/// Longest display name kept (longer ones are cut).
pub const MAX_NAME_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomLimits {
    pub max_rooms: usize,
    pub max_peers_per_room: usize,
    pub max_chat_chars: usize,
}

impl Default for RoomLimits {
    fn default() -> Self {
        RoomLimits {
            max_rooms: 1000,
            max_peers_per_room: 8,
            max_chat_chars: 4000,
        }
    }
}

/// What the server must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Send(ConnId, ServerMessage),
    /// Close after the messages before it are sent.
    Close(ConnId),
}

struct Member {
    room: String,
    peer_id: String,
    role: Role,
    name: String,
    /// The id of the token it joined with: one live connection a token.
    token_id: String,
}

#[derive(Default)]
pub struct Rooms {
    limits: RoomLimits,
    /// Room name to its members in joining order.
    rooms: HashMap<String, Vec<ConnId>>,
    members: HashMap<ConnId, Member>,
}

fn error(conn: ConnId, code: ErrorCode, message: impl Into<String>) -> Vec<Output> {
    let mut out = vec![Output::Send(
        conn,
        ServerMessage::Error {
            code,
            message: message.into(),
        },
    )];
    if code.is_fatal() {
        out.push(Output::Close(conn));
    }
    out
}

impl Rooms {
    pub fn new(limits: RoomLimits) -> Rooms {
        Rooms {
            limits,
            ..Default::default()
        }
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub fn peer_count(&self) -> usize {
        self.members.len()
    }

    pub fn is_joined(&self, conn: ConnId) -> bool {
        self.members.contains_key(&conn)
    }

    /// The room and peer id of a joined connection (for logs: no names).
    pub fn whereabouts(&self, conn: ConnId) -> Option<(&str, &str)> {
        self.members
            .get(&conn)
            .map(|m| (m.room.as_str(), m.peer_id.as_str()))
    }

    /// Enter the room of verified `claims`. `ice_servers` makes the
    /// joining peer's ICE servers from its new peer id.
    pub fn join(
        &mut self,
        conn: ConnId,
        claims: &Claims,
        version: u32,
        name: &str,
        ice_servers: impl FnOnce(&str) -> Vec<IceServer>,
    ) -> Vec<Output> {
        if version != PROTOCOL_VERSION {
            return error(
                conn,
                ErrorCode::UnsupportedVersion,
                format!("this server speaks protocol version {PROTOCOL_VERSION}, not {version}"),
            );
        }
        if self.members.contains_key(&conn) {
            return error(conn, ErrorCode::AlreadyJoined, "already in a room");
        }
        let existing = self.rooms.get(&claims.room).map_or(0, Vec::len);
        if existing == 0 && self.rooms.len() >= self.limits.max_rooms {
            return error(
                conn,
                ErrorCode::TooManyRooms,
                "the server has as many rooms open as it allows",
            );
        }
        if existing >= self.limits.max_peers_per_room {
            return error(
                conn,
                ErrorCode::RoomFull,
                format!(
                    "the room has its {} participants",
                    self.limits.max_peers_per_room
                ),
            );
        }
        if self.members.values().any(|m| m.token_id == claims.jti) {
            return error(
                conn,
                ErrorCode::TokenInUse,
                "this token already has a connection in its room: one connection a token",
            );
        }
        let seats = claims.seats.map(usize::from).unwrap_or(match claims.role {
            // The consultation's two sides: one each, so that a leaked or
            // second token cannot step into either (observers watch).
            Role::Presenter | Role::Specialist => 1,
            Role::Observer => self.limits.max_peers_per_room,
        });
        let taken = self
            .rooms
            .get(&claims.room)
            .into_iter()
            .flatten()
            .filter(|c| self.members.get(c).is_some_and(|m| m.role == claims.role))
            .count();
        if taken >= seats {
            return error(
                conn,
                ErrorCode::RoleTaken,
                format!(
                    "the room already has its {} {}",
                    taken,
                    claims.role.as_str()
                ),
            );
        }
        let peer_id = crate::token::random_id();
        let name: String = name
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME_CHARS)
            .collect();
        let participant = Participant {
            peer_id: peer_id.clone(),
            role: claims.role,
            name: name.clone(),
        };
        let others = self.rooms.entry(claims.room.clone()).or_default();
        let participants = others
            .iter()
            .filter_map(|c| self.members.get(c))
            .map(|m| Participant {
                peer_id: m.peer_id.clone(),
                role: m.role,
                name: m.name.clone(),
            })
            .collect();
        let mut out: Vec<Output> = others
            .iter()
            .map(|&c| {
                Output::Send(
                    c,
                    ServerMessage::PeerJoined {
                        participant: participant.clone(),
                    },
                )
            })
            .collect();
        others.push(conn);
        out.insert(
            0,
            Output::Send(
                conn,
                ServerMessage::Welcome {
                    version: PROTOCOL_VERSION,
                    room: claims.room.clone(),
                    peer_id: peer_id.clone(),
                    role: claims.role,
                    participants,
                    ice_servers: ice_servers(&peer_id),
                },
            ),
        );
        self.members.insert(
            conn,
            Member {
                room: claims.room.clone(),
                peer_id,
                role: claims.role,
                name,
                token_id: claims.jti.clone(),
            },
        );
        out
    }

    /// A message from a connection (not `join`, which needs the token
    /// checked first: see [`Self::join`]).
    pub fn handle(&mut self, conn: ConnId, message: ClientMessage, now_ms: u64) -> Vec<Output> {
        let Some(me) = self.members.get(&conn) else {
            return match message {
                ClientMessage::Ping { id } => vec![Output::Send(conn, ServerMessage::Pong { id })],
                _ => error(conn, ErrorCode::NotJoined, "send join first"),
            };
        };
        let from = me.peer_id.clone();
        let (to, relayed) = match message {
            ClientMessage::Join { .. } => {
                return error(conn, ErrorCode::AlreadyJoined, "already in a room");
            }
            ClientMessage::Ping { id } => {
                return vec![Output::Send(conn, ServerMessage::Pong { id })];
            }
            ClientMessage::Leave => return self.leave(conn),
            ClientMessage::Chat { text } => {
                if text.chars().count() > self.limits.max_chat_chars {
                    return error(
                        conn,
                        ErrorCode::TooLarge,
                        format!(
                            "chat messages are at most {} characters",
                            self.limits.max_chat_chars
                        ),
                    );
                }
                let chat = ServerMessage::Chat {
                    from,
                    text,
                    at_ms: now_ms,
                };
                // To everyone in the room, the sender too (its echo carries
                // the server's time and order).
                return self
                    .room_of(conn)
                    .iter()
                    .map(|&c| Output::Send(c, chat.clone()))
                    .collect();
            }
            ClientMessage::Offer {
                to,
                sdp,
                ice_restart,
            } => {
                if me.role == Role::Observer {
                    return error(conn, ErrorCode::Forbidden, "observers do not send offers");
                }
                (
                    to,
                    ServerMessage::Offer {
                        from,
                        sdp,
                        ice_restart,
                    },
                )
            }
            ClientMessage::Answer { to, sdp } => (to, ServerMessage::Answer { from, sdp }),
            ClientMessage::Candidate {
                to,
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => (
                to,
                ServerMessage::Candidate {
                    from,
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                },
            ),
            ClientMessage::IceRestart { to } => (to, ServerMessage::IceRestart { from }),
        };
        // Only to a peer of the same room: ids of other rooms are unknown
        // here, so nothing crosses between rooms.
        let target = self
            .room_of(conn)
            .iter()
            .copied()
            .find(|c| *c != conn && self.members.get(c).is_some_and(|m| m.peer_id == to));
        match target {
            Some(c) => vec![Output::Send(c, relayed)],
            None => error(
                conn,
                ErrorCode::NoSuchPeer,
                format!(
                    "no peer {:?} in this room",
                    crate::protocol::truncate(&to, 40)
                ),
            ),
        }
    }

    /// A connection left (by message, by closing, or by vanishing): the
    /// others are told; an empty room is removed.
    pub fn leave(&mut self, conn: ConnId) -> Vec<Output> {
        let Some(me) = self.members.remove(&conn) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(members) = self.rooms.get_mut(&me.room) {
            members.retain(|&c| c != conn);
            out = members
                .iter()
                .map(|&c| {
                    Output::Send(
                        c,
                        ServerMessage::PeerLeft {
                            peer_id: me.peer_id.clone(),
                        },
                    )
                })
                .collect();
            if members.is_empty() {
                self.rooms.remove(&me.room);
            }
        }
        out
    }

    fn room_of(&self, conn: ConnId) -> &[ConnId] {
        self.members
            .get(&conn)
            .and_then(|m| self.rooms.get(&m.room))
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(room: &str, role: Role) -> Claims {
        Claims {
            room: room.into(),
            role,
            iat: 0,
            exp: u64::MAX,
            jti: crate::token::random_id(),
            seats: None,
        }
    }

    fn refused_with(out: &[Output]) -> Option<ErrorCode> {
        match out.first() {
            Some(Output::Send(_, ServerMessage::Error { code, .. })) => Some(*code),
            _ => None,
        }
    }

    #[test]
    fn a_token_joins_once_at_a_time() {
        let mut rooms = Rooms::new(RoomLimits::default());
        let token = claims("r", Role::Specialist);
        peer_id(&rooms.join(1, &token, 1, "Dr A", |_| vec![]));
        let again = rooms.join(2, &token, 1, "someone with the same token", |_| vec![]);
        assert_eq!(refused_with(&again), Some(ErrorCode::TokenInUse));
        assert!(matches!(again.last(), Some(Output::Close(2))));
        // Once its connection has left, the token may join again (a
        // restart, a dropped link).
        rooms.leave(1);
        peer_id(&rooms.join(3, &token, 1, "Dr A again", |_| vec![]));
    }

    #[test]
    fn a_room_holds_one_presenter_and_one_specialist_unless_a_token_allows_more() {
        let mut rooms = Rooms::new(RoomLimits::default());
        peer_id(&rooms.join(1, &claims("r", Role::Observer), 1, "", |_| vec![]));
        peer_id(&rooms.join(2, &claims("r", Role::Presenter), 1, "", |_| vec![]));
        peer_id(&rooms.join(3, &claims("r", Role::Specialist), 1, "", |_| vec![]));
        let second = rooms.join(4, &claims("r", Role::Presenter), 1, "", |_| vec![]);
        assert_eq!(refused_with(&second), Some(ErrorCode::RoleTaken));
        // Observers are not capped below the room's limit.
        peer_id(&rooms.join(5, &claims("r", Role::Observer), 1, "", |_| vec![]));
        // A token that says so seats a second specialist (a trainee).
        let mut trainee = claims("r", Role::Specialist);
        trainee.seats = Some(2);
        peer_id(&rooms.join(6, &trainee, 1, "", |_| vec![]));
        // The presenter's seat is free again once it has left.
        rooms.leave(2);
        peer_id(&rooms.join(7, &claims("r", Role::Presenter), 1, "", |_| vec![]));
    }

    fn peer_id(out: &[Output]) -> String {
        match &out[0] {
            Output::Send(_, ServerMessage::Welcome { peer_id, .. }) => peer_id.clone(),
            other => panic!("not a welcome: {other:?}"),
        }
    }

    #[test]
    fn peers_meet_relay_and_leave() {
        let mut rooms = Rooms::new(RoomLimits::default());
        let a = peer_id(&rooms.join(1, &claims("r", Role::Specialist), 1, "Dr A", |_| vec![]));
        let out = rooms.join(2, &claims("r", Role::Presenter), 1, "Dr B", |_| vec![]);
        let b = peer_id(&out);
        assert!(
            matches!(&out[0], Output::Send(2, ServerMessage::Welcome { participants, .. }) if participants.len() == 1 && participants[0].peer_id == a)
        );
        assert!(
            matches!(&out[1], Output::Send(1, ServerMessage::PeerJoined { participant }) if participant.peer_id == b)
        );
        let out = rooms.handle(
            1,
            ClientMessage::Offer {
                to: b.clone(),
                sdp: "v=0".into(),
                ice_restart: false,
            },
            5,
        );
        assert_eq!(
            out,
            vec![Output::Send(
                2,
                ServerMessage::Offer {
                    from: a.clone(),
                    sdp: "v=0".into(),
                    ice_restart: false
                }
            )]
        );
        assert_eq!(
            rooms.leave(2),
            vec![Output::Send(1, ServerMessage::PeerLeft { peer_id: b })]
        );
        assert_eq!(rooms.leave(1), vec![]);
        assert_eq!((rooms.room_count(), rooms.peer_count()), (0, 0));
    }

    #[test]
    fn nothing_crosses_rooms_and_limits_hold() {
        let limits = RoomLimits {
            max_rooms: 2,
            max_peers_per_room: 2,
            max_chat_chars: 10,
        };
        let mut rooms = Rooms::new(limits);
        rooms.join(1, &claims("r1", Role::Specialist), 1, "", |_| vec![]);
        let other = peer_id(&rooms.join(2, &claims("r2", Role::Presenter), 1, "", |_| vec![]));
        let out = rooms.handle(
            1,
            ClientMessage::Answer {
                to: other,
                sdp: "x".into(),
            },
            0,
        );
        assert!(matches!(
            &out[..],
            [Output::Send(
                1,
                ServerMessage::Error {
                    code: ErrorCode::NoSuchPeer,
                    ..
                }
            )]
        ));
        let out = rooms.join(3, &claims("r3", Role::Observer), 1, "", |_| vec![]);
        assert!(out.contains(&Output::Close(3)), "{out:?}");
        rooms.join(4, &claims("r1", Role::Observer), 1, "", |_| vec![]);
        let out = rooms.join(5, &claims("r1", Role::Observer), 1, "", |_| vec![]);
        assert!(matches!(
            &out[0],
            Output::Send(
                5,
                ServerMessage::Error {
                    code: ErrorCode::RoomFull,
                    ..
                }
            )
        ));
        let out = rooms.handle(
            4,
            ClientMessage::Offer {
                to: "x".into(),
                sdp: String::new(),
                ice_restart: false,
            },
            0,
        );
        assert!(matches!(
            &out[0],
            Output::Send(
                4,
                ServerMessage::Error {
                    code: ErrorCode::Forbidden,
                    ..
                }
            )
        ));
        let out = rooms.handle(
            4,
            ClientMessage::Chat {
                text: "x".repeat(11),
            },
            0,
        );
        assert!(matches!(
            &out[0],
            Output::Send(
                4,
                ServerMessage::Error {
                    code: ErrorCode::TooLarge,
                    ..
                }
            )
        ));
        let out = rooms.handle(9, ClientMessage::Chat { text: "hi".into() }, 0);
        assert!(matches!(
            &out[0],
            Output::Send(
                9,
                ServerMessage::Error {
                    code: ErrorCode::NotJoined,
                    ..
                }
            )
        ));
        let out = rooms.join(6, &claims("r1", Role::Observer), 2, "", |_| vec![]);
        assert!(matches!(
            &out[0],
            Output::Send(
                6,
                ServerMessage::Error {
                    code: ErrorCode::UnsupportedVersion,
                    ..
                }
            )
        ));
    }
}
