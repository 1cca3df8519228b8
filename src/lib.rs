//! Luotsi: multichannel citizen contact routing for Finnish health and social services.
//!
//! See ARCHITECTURE.md for the map of modules, the data flow of one contact, the Redis key
//! layout and the invariants.

pub mod admission;
pub mod api;
pub mod app;
pub mod auth;
pub mod background;
pub mod board;
pub mod classify;
pub mod client;
pub mod clock;
pub mod codec;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod embedded;
pub mod forecast;
pub mod http;
pub mod identity;
pub mod limits;
pub mod metrics;
pub mod reload;
pub mod report;
pub mod secret;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tls;

/// Generated protobuf and gRPC code for `luotsi.v1`.
pub mod pb {
    tonic::include_proto!("luotsi.v1");

    /// The file descriptor set served by gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("luotsi_descriptor");
}
