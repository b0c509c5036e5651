pub mod card;
pub mod config;
pub mod error;
pub mod models;
pub mod testing;
pub use error::{Error, Result};
