//! The console's logic without its window. See the crate README.

mod desk;
mod supervisor;

pub use desk::{CaseDesk, CasePage, DeskError, SettingsPage, actor_from};

pub use supervisor::{
    SupervisorError, SupervisorOptions, ViewerCommand, ViewerEvent, ViewerStatus, ViewerSupervisor,
};
