//! The console's logic without its window. See the crate README.

mod supervisor;

pub use supervisor::{
    SupervisorError, SupervisorOptions, ViewerCommand, ViewerEvent, ViewerStatus, ViewerSupervisor,
};
