//! The traffic inspector: captures every exchange through the proxy off the hot path (a
//! bounded queue that drops and counts when full), records it in batches, streams it live,
//! and replays and exports it.

pub mod capture;
pub mod curl;
pub mod decode;
pub mod event;
pub mod frames;
pub mod har;
pub mod headers;
pub mod recorder;
