//! Integration tests of the whole service: real gRPC, real Redis.

mod county;
mod harness;
mod support;

mod bad_input;
mod flow;
mod language;
mod offers;
mod policy;
mod privacy;
mod resilience;
mod scale;
mod supervisor;
mod triage;
mod web;
