//! The workstation's case store. See the crate README for the why.

mod fold;
pub mod model;
mod private;
mod refusal;
mod schema;
mod store;

pub use fold::search_form;
pub use model::*;
pub use refusal::{CaseAction, CaseField};
pub use schema::SCHEMA_VERSION;
pub use store::{CaseStore, CaseStoreError, DatabaseReport};
