//! The console's logic without its window. See the crate README.

mod call;
mod desk;
mod supervisor;

pub use call::{
    CallDesk, CallDeskError, CallStatus, JoinRequest, Labels, Participant, Quality, QualityLevel,
    RemoteVideoSink, StatusSink, case_room, quality_from_stats, token_room,
};
pub use desk::{CaseDesk, CasePage, DeskError, SettingsPage, actor_from};

pub use supervisor::{
    SupervisorError, SupervisorOptions, ViewerCommand, ViewerEvent, ViewerStatus, ViewerSupervisor,
    end_child,
};
