//! The exchange inside the engine (being built): trading accounts with cash, holds, matching through ets-market, delivery-versus-payment settlement.
