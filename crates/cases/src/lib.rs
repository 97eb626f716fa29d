//! The workstation's case store. See the crate README for the why.

pub mod model;
mod private;
mod refusal;
mod schema;
mod store;

pub use model::*;
pub use refusal::{CaseAction, CaseField};
pub use schema::SCHEMA_VERSION;
pub use store::{CaseStore, CaseStoreError, DatabaseReport};
