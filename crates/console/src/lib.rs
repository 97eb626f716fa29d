//! The console's logic without its window. See the crate README.

pub mod analyses;
pub mod annotation_export;
mod call;
mod desk;
mod for_people;
pub mod language;
pub mod report_export;
mod supervisor;
mod viewer_link;
mod viewer_outbox;
mod workstation;

pub use call::{
    CallDesk, CallDeskError, CallStatus, JoinRequest, Labels, Participant, Quality, QualityLevel,
    StatusSink, case_room, quality_from_stats, token_room,
};
pub use desk::{CaseDesk, CasePage, DeskError, SettingsPage, actor_from};
pub use for_people::ForPeople;
pub use viewer_link::{ViewerLink, ViewerVideo};
pub use workstation::{CallDevices, Workstation};

pub use supervisor::{
    SupervisorError, SupervisorOptions, ViewerCommand, ViewerEvent, ViewerStatus, ViewerSupervisor,
    end_child, remove_viewer_socket, viewer_socket,
};
