//! TLS: Portico's local certificate authority, on-demand leaf certificates chosen by SNI,
//! and installing the CA into trust stores.

pub mod trust;
