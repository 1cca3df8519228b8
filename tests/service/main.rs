//! Integration tests of the whole service: real gRPC, real Redis.

mod county;
mod harness;
mod oidc;
mod support;

mod auth;
mod bad_input;
mod callback;
mod cluster;
mod flow;
mod language;
mod limits;
mod offers;
mod policy;
mod presence;
mod privacy;
mod redis_access;
mod redis_cost;
mod resilience;
mod scale;
mod supervisor;
mod triage;
mod web;
