//! Value types shared by every openets crate: identifiers, quantities of
//! tonnes, prices in ticks, money in minor units, unit classes and serial
//! blocks. All arithmetic is integer and checked; nothing here does I/O.
//!
//! The types derive `serde` traits only so that the engine can encode its
//! journal payloads and snapshots with a stable binary format; API formats
//! (JSON) are built by hand at the boundary.

mod amount;
mod code;
mod ids;
mod serial;
mod unit_class;

pub use amount::{AmountError, Money, Price, Quantity};
pub use code::{Code, CodeError};
pub use ids::{AccountId, ParticipantId, RequestId, Timestamp, TransactionId};
pub use serial::{SerialBlock, SerialError};
pub use unit_class::{UnitClass, Vintage};
