//! A sector's firms as abatement agents, by the power sector's model
//! ([`crate::agents`]): each firm draws a cost multiplier of its sector's MAC curve (the
//! `[[sectors]]` table's `mac` and `cost_dispersion`, assumptions: no sector curve is
//! published) and a price it expects (the scenario's `[abatement]` expectation), and
//! abates its CO2 up to the MAC where a tonne abated pays. What a tonne pays depends on
//! the rulebook: with allocation equal to verified emissions (2024) a tonne abated is a
//! tonne less allocated, so nothing; under the intensity method
//! `A = (1 - w) E + w Q B` it keeps `w` of the tonne, so the firm abates up to its MAC at
//! `w` times the price it expects. Abatement lowers the CO2 the firm reports; CF4 and
//! C2F6 are left as they are.

use super::firms::{SectorSpec, SimSectorFirm};
use crate::agents::{Firm, Mac};
use crate::scenario::{Rng, Scenario};
use ets_scheme::sector::{SectorAllocationRules, SectorMethod};
use rust_decimal::prelude::ToPrimitive as _;

/// Whether `mac` is a curve of increasing `[share 0..1, yuan/t]` points (empty: none).
#[must_use]
pub fn mac_is_valid(mac: &[[f64; 2]]) -> bool {
    !mac.windows(2)
        .any(|w| w[1][0] <= w[0][0] || w[1][1] < w[0][1])
        && !mac.iter().any(|p| p[0] <= 0.0 || p[0] >= 1.0 || p[1] < 0.0)
}

/// The share of the price a firm keeps per tonne it abates under `rules`.
#[must_use]
pub fn kept_share(rules: &SectorAllocationRules) -> f64 {
    match rules.method {
        SectorMethod::Verified => 0.0,
        SectorMethod::Intensity(intensity) => intensity.intensity_weight.to_f64().unwrap_or(0.0),
    }
}

/// Each firm's abatement decision (drawn from `seed`), applied to its CO2: returns the
/// firms as agents, in firm order. `floor` (yuan/t, 0 = none): no firm expects less.
pub fn abate(
    spec: &SectorSpec,
    scenario: &Scenario,
    rules: &SectorAllocationRules,
    firms: &mut [SimSectorFirm],
    seed: u64,
) -> Vec<Firm> {
    let a = &scenario.abatement;
    let mut rng = Rng::new(seed);
    let mean = if a.expected_price > 0.0 {
        a.expected_price
    } else {
        scenario.market.price_mean
    };
    let floor = scenario.design.price_floor_yuan.max(0.0);
    let kept = kept_share(rules);
    firms
        .iter_mut()
        .map(|firm| {
            let multiplier =
                (spec.cost_dispersion * rng.normal() - spec.cost_dispersion.powi(2) / 2.0).exp();
            let expected = (mean
                * (a.expectation_sigma * rng.normal() - a.expectation_sigma.powi(2) / 2.0).exp())
            .max(floor);
            let mac = Mac::new(&spec.mac, multiplier);
            let share = mac.share_at(expected * kept);
            let bau = firm.co2_tonnes;
            firm.co2_tonnes = ((bau as f64) * (1.0 - share)).round() as u64;
            Firm {
                bau_tonnes: bau as f64,
                mac,
                expected_price: expected,
                share,
            }
        })
        .collect()
}
