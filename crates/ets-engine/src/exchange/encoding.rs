//! The postcard encoding of the two commands an order flow sends most
//! (placing and cancelling an order), written by hand for the command
//! digest ([`crate::CommandDigest::of`]). Through serde, postcard spent more
//! instructions on these few bytes than BLAKE3's set-up (a `memcpy` call per
//! varint and per code, a size check per field; docs/benchmarks.md). The
//! digest is journaled, so the bytes must be postcard's exactly: the
//! destructuring below names every field (a new field does not compile
//! until it is written here), and tests compare the bytes with
//! `postcard::to_slice` for every shape and random values. Every other
//! command goes through postcard as before.

use super::command::ExchangeCommand;
use ets_market::{OrderKind, Side, TimeInForce};

/// Room for the longest command encoded here: the command's variant, the
/// exchange command's variant, a code (length and at most 24 bytes), three
/// varints of at most 10 bytes and four one-byte tags: 61 bytes.
const CAPACITY_BYTES: usize = 64;

/// A command's postcard encoding, on the stack.
pub(crate) struct HotEncoding {
    bytes: [u8; CAPACITY_BYTES],
    length: usize,
}

impl HotEncoding {
    /// The encoded bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.length]
    }

    fn push(&mut self, byte: u8) {
        self.bytes[self.length] = byte;
        self.length += 1;
    }

    /// An unsigned integer as postcard writes it: seven bits a byte, low
    /// bits first, the high bit set on every byte but the last.
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            // Truncation intended: the low seven bits, with the continuation bit.
            self.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.push(value as u8);
    }

    /// A signed integer as postcard writes it: zigzag, then a varint.
    fn zigzag(&mut self, value: i64) {
        self.varint(((value << 1) ^ (value >> 63)) as u64);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.varint(bytes.len() as u64);
        self.bytes[self.length..self.length + bytes.len()].copy_from_slice(bytes);
        self.length += bytes.len();
    }
}

/// The postcard encoding of `Command::Exchange(command)` when `command`
/// places or cancels an order; `None` for any other command (encode it with
/// postcard). `command_variant` is the index of the `Exchange` variant in
/// `Command`, which the caller owns.
pub(crate) fn encode_hot(command_variant: u8, command: &ExchangeCommand) -> Option<HotEncoding> {
    let mut out = HotEncoding {
        bytes: [0; CAPACITY_BYTES],
        length: 0,
    };
    out.push(command_variant);
    match command {
        ExchangeCommand::PlaceOrder {
            instrument,
            account,
            side,
            kind,
            quantity,
            time_in_force,
        } => {
            out.push(PLACE_ORDER);
            out.bytes(instrument.as_bytes());
            out.varint(account.0);
            out.push(side_tag(*side));
            match kind {
                OrderKind::Limit(price) => {
                    out.push(0);
                    out.zigzag(price.ticks());
                }
                OrderKind::Market => out.push(1),
            }
            out.varint(quantity.tonnes());
            out.push(time_in_force_tag(*time_in_force));
        }
        ExchangeCommand::CancelOrder {
            instrument,
            account,
            order,
        } => {
            out.push(CANCEL_ORDER);
            out.bytes(instrument.as_bytes());
            out.varint(account.0);
            out.varint(order.0);
        }
        _ => return None,
    }
    Some(out)
}

/// The variant index of [`ExchangeCommand::PlaceOrder`] (declaration order).
const PLACE_ORDER: u8 = 3;
/// The variant index of [`ExchangeCommand::CancelOrder`].
const CANCEL_ORDER: u8 = 4;

/// A side's variant index (declaration order).
const fn side_tag(side: Side) -> u8 {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// A time in force's variant index (declaration order).
const fn time_in_force_tag(time_in_force: TimeInForce) -> u8 {
    match time_in_force {
        TimeInForce::Day => 0,
        TimeInForce::ImmediateOrCancel => 1,
        TimeInForce::FillOrKill => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Command, CommandDigest};
    use ets_market::OrderId;
    use ets_model::{AccountId, Code, Price, Quantity};
    use proptest::prelude::*;

    /// Postcard's own encoding of `Command::Exchange(command)`.
    fn postcard_bytes(command: &ExchangeCommand) -> Vec<u8> {
        postcard::to_allocvec(&Command::Exchange(command.clone())).expect("encodes")
    }

    /// The hand encoding, with the variant index postcard gives `Exchange`;
    /// checks on the way that the digest the engine computes (with its own
    /// variant index) is the digest of postcard's bytes.
    fn hand_bytes(command: &ExchangeCommand) -> Option<Vec<u8>> {
        let expected = postcard_bytes(command);
        let wrapped = Command::Exchange(command.clone());
        assert_eq!(
            CommandDigest::of(&wrapped),
            CommandDigest::of_encoded(&wrapped, &expected),
            "{command:?}"
        );
        encode_hot(expected[0], command).map(|encoded| encoded.as_bytes().to_vec())
    }

    fn place(
        symbol: &str,
        account: u64,
        side: Side,
        kind: OrderKind,
        tonnes: u64,
    ) -> Vec<ExchangeCommand> {
        [
            TimeInForce::Day,
            TimeInForce::ImmediateOrCancel,
            TimeInForce::FillOrKill,
        ]
        .into_iter()
        .map(|time_in_force| ExchangeCommand::PlaceOrder {
            instrument: Code::try_new(symbol).expect("valid code"),
            account: AccountId(account),
            side,
            kind,
            quantity: Quantity::new(tonnes),
            time_in_force,
        })
        .collect()
    }

    #[test]
    fn every_shape_at_the_edges_encodes_as_postcard_does() {
        // Goal: the hand encoding equals postcard's byte for byte for every
        // side, kind and time in force, at the varints' edges (one byte, two
        // bytes, the largest values) and for the shortest and longest codes.
        let edges = [
            0_u64,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ];
        let prices = [0_i64, 1, -1, 63, 64, -64, -65, i64::MAX, i64::MIN];
        let symbols = ["A", "CEA21", "ABCDEFGHIJKLMNOPQRSTUVWX"];
        let mut commands = Vec::new();
        for symbol in symbols {
            for &value in &edges {
                for side in [Side::Buy, Side::Sell] {
                    commands.extend(place(symbol, value, side, OrderKind::Market, value));
                    for &ticks in &prices {
                        let kind = OrderKind::Limit(Price::try_new(ticks).unwrap_or_default());
                        commands.extend(place(symbol, value, side, kind, value));
                    }
                }
                commands.push(ExchangeCommand::CancelOrder {
                    instrument: Code::try_new(symbol).expect("valid code"),
                    account: AccountId(value),
                    order: OrderId(value),
                });
            }
        }
        for command in &commands {
            assert_eq!(
                hand_bytes(command),
                Some(postcard_bytes(command)),
                "{command:?}"
            );
        }
    }

    #[test]
    fn other_commands_are_left_to_postcard() {
        // Goal: only the two shapes written here are encoded by hand.
        let command = ExchangeCommand::EndOfDay {
            instrument: Code::try_new("CEA21").expect("valid code"),
        };
        assert!(encode_hot(2, &command).is_none());
    }

    proptest! {
        #[test]
        fn random_orders_and_cancels_encode_as_postcard_does(
            account in any::<u64>(),
            tonnes in any::<u64>(),
            ticks in any::<i64>(),
            order in any::<u64>(),
            sell in any::<bool>(),
            market in any::<bool>(),
            symbol in "[A-Z0-9]{1,24}",
        ) {
            // Goal: random values of every field agree with postcard too.
            let side = if sell { Side::Sell } else { Side::Buy };
            let kind = if market {
                OrderKind::Market
            } else {
                OrderKind::Limit(Price::try_new(ticks).unwrap_or_default())
            };
            let mut commands = place(&symbol, account, side, kind, tonnes);
            commands.push(ExchangeCommand::CancelOrder {
                instrument: Code::try_new(&symbol).expect("valid code"),
                account: AccountId(account),
                order: OrderId(order),
            });
            for command in &commands {
                prop_assert_eq!(hand_bytes(command), Some(postcard_bytes(command)));
            }
        }
    }
}
