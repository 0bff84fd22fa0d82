//! The processors' webhook wire formats: signature schemes checked over the raw bytes, then the
//! event JSON read into [`events::Event`], the shape the payments use cases apply.

pub mod events;
pub mod signature;
