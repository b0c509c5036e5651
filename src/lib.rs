pub mod card;
pub mod chunk;
pub mod config;
pub mod error;
pub mod models;
pub mod segment;
pub mod testing;
pub use error::{Error, Result};
