//! Shared by the oracle, precision-free property tests and the fuzz corpus replay:
//! random programs over every op ([`program`]) and the forward-mode oracle that
//! checks them ([`oracle`]).

pub mod oracle;
pub mod program;
