//! Registry operations the exchange needs (holds and trade settlement), being built.
