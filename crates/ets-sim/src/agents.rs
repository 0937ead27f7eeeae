//! Abatement-cost agents: each covered firm's business-as-usual (BAU) emissions, its
//! marginal abatement cost (MAC) curve, the price it expects, how much it abates, and
//! the least-cost benchmark (the same total abatement at one marginal cost).
//!
//! A firm abates until its MAC equals the price it expects (docs/sources.md#cn-calibration: efficiency
//! retrofits first, CCS at 165-219 yuan/t as the tail). Abatement burns less fuel for
//! the same output, so it lowers the emissions the firm reports (the MRV formula) and
//! leaves its benchmark allocation unchanged.

use crate::scenario::{CapDesign, Population, Rng, Scenario, SimUnit};

/// One firm's MAC curve: points `(share of BAU, yuan/t)`, linear between them and from
/// `(0, 0)`; no abatement beyond the last point.
#[derive(Debug, Clone, PartialEq)]
pub struct Mac {
    points: Vec<(f64, f64)>,
}

impl Mac {
    /// A curve from `[share, yuan/t]` points, costs multiplied by `multiplier`.
    #[must_use]
    pub fn new(points: &[[f64; 2]], multiplier: f64) -> Mac {
        Mac {
            points: points.iter().map(|p| (p[0], p[1] * multiplier)).collect(),
        }
    }

    /// The largest share of BAU it can abate.
    #[must_use]
    pub fn max_share(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0)
    }

    /// Segments `((s0, c0), (s1, c1))` from the origin.
    fn segments(&self) -> impl Iterator<Item = ((f64, f64), (f64, f64))> + '_ {
        std::iter::once((0.0, 0.0))
            .chain(self.points.iter().copied())
            .zip(self.points.iter().copied())
    }

    /// The marginal cost at abatement `share`, yuan/t (infinite beyond the curve).
    #[must_use]
    pub fn marginal(&self, share: f64) -> f64 {
        for ((s0, c0), (s1, c1)) in self.segments() {
            if share <= s1 {
                return c0 + (c1 - c0) * (share - s0) / (s1 - s0).max(f64::EPSILON);
            }
        }
        f64::INFINITY
    }

    /// The share it abates when its MAC may reach `price` (the inverse of `marginal`).
    #[must_use]
    pub fn share_at(&self, price: f64) -> f64 {
        if price <= 0.0 {
            return 0.0;
        }
        for ((s0, c0), (s1, c1)) in self.segments() {
            if price <= c1 {
                if c1 <= c0 {
                    return s0;
                }
                return s0 + (s1 - s0) * (price - c0) / (c1 - c0);
            }
        }
        self.max_share()
    }

    /// The cost of abating `share` of BAU, yuan per tonne of BAU (the area under the MAC).
    #[must_use]
    pub fn cost(&self, share: f64) -> f64 {
        let mut total = 0.0;
        for ((s0, c0), (s1, c1)) in self.segments() {
            if share <= s0 {
                break;
            }
            let end = share.min(s1);
            let c_end = c0 + (c1 - c0) * (end - s0) / (s1 - s0).max(f64::EPSILON);
            total += (end - s0) * (c0 + c_end) / 2.0;
        }
        total
    }
}

/// A firm as an abatement agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Firm {
    /// Business-as-usual emissions, tonnes (the generated units, before abatement).
    pub bau_tonnes: f64,
    /// Its MAC curve.
    pub mac: Mac,
    /// The price it expects, yuan/t: it abates up to this MAC, and it is the centre of
    /// its reservation prices in the market.
    pub expected_price: f64,
    /// The share of BAU it abates.
    pub share: f64,
}

impl Firm {
    /// Tonnes it means to abate.
    #[must_use]
    pub fn abatement_tonnes(&self) -> f64 {
        self.share * self.bau_tonnes
    }

    /// What its abatement costs, yuan.
    #[must_use]
    pub fn abatement_cost(&self) -> f64 {
        self.mac.cost(self.share) * self.bau_tonnes
    }

    /// Its MAC at its chosen abatement, yuan/t (its reservation price for a tonne).
    #[must_use]
    pub fn marginal_cost(&self) -> f64 {
        self.mac.marginal(self.share)
    }
}

/// Draws each firm's cost multiplier and expected price (a stream of their own, so
/// the plants are the same with or without abatement) and decides its abatement.
/// `floor` (yuan/t, 0 = none) is a credible price floor: no firm expects less.
#[must_use]
pub fn firms(scenario: &Scenario, population: &Population, floor: f64) -> Vec<Firm> {
    let a = &scenario.abatement;
    let mut rng = Rng::new(scenario.scenario.seed ^ 0x0AB4_7E00_C057_0001);
    let mean = if a.expected_price > 0.0 {
        a.expected_price
    } else {
        scenario.market.price_mean
    };
    population
        .entities
        .iter()
        .map(|entity| {
            let multiplier =
                (a.cost_dispersion * rng.normal() - a.cost_dispersion.powi(2) / 2.0).exp();
            let expected = (mean
                * (a.expectation_sigma * rng.normal() - a.expectation_sigma.powi(2) / 2.0).exp())
            .max(floor);
            let mac = Mac::new(&a.mac, multiplier);
            let share = mac.share_at(expected);
            Firm {
                bau_tonnes: entity.emissions(),
                mac,
                expected_price: expected,
                share,
            }
        })
        .collect()
}

/// Applies each firm's abatement to its units: the same output from `1 - share` of the
/// fuel (efficiency), so the reported fuel, and so the MRV emissions, fall.
pub fn apply(population: &mut Population, firms: &[Firm]) {
    for (entity, firm) in population.entities.iter_mut().zip(firms) {
        if firm.share <= 0.0 {
            continue;
        }
        for unit in &mut entity.units {
            let fuel = &mut unit.fuel;
            fuel.consumed = ((fuel.consumed as f64) * (1.0 - firm.share))
                .round()
                .max(1.0) as u64;
        }
    }
}

/// How output answers the carbon cost (`[abatement] output_elasticity`, an assumption):
/// a firm's net carbon cost per MWh is the price it expects times its emissions less its
/// free allocation, per MWh generated. Under output-based (intensity) allocation the free
/// allocation grows with output, so it offsets most of the cost (an implicit output
/// subsidy); auctioning or a tighter total leaves more of it. Each unit's load factor,
/// generation, supply, heat and fuel are multiplied by `(1 + cost / power price)^-elasticity`
/// (above 1 for a firm allocated more than it emits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputResponse {
    /// Elasticity of output to the carbon cost relative to the power price (0 = none).
    pub elasticity: f64,
    /// The power price, yuan/MWh.
    pub power_price: f64,
}

impl OutputResponse {
    /// The scenario's response (none when its elasticity or power price is 0).
    #[must_use]
    pub fn of(scenario: &Scenario) -> OutputResponse {
        OutputResponse {
            elasticity: scenario.abatement.output_elasticity,
            power_price: scenario.abatement.power_price_yuan_per_mwh,
        }
    }

    /// The output multiplier of a firm expecting `price` (yuan/t), emitting `emissions`
    /// (t) and given `free` (t) for `generation_mwh`.
    #[must_use]
    pub fn multiplier(&self, price: f64, emissions: f64, free: f64, generation_mwh: f64) -> f64 {
        if self.elasticity <= 0.0 || self.power_price <= 0.0 || generation_mwh <= 0.0 {
            return 1.0;
        }
        let cost = price * (emissions - free) / generation_mwh;
        (1.0 + cost / self.power_price)
            .max(0.05)
            .powf(-self.elasticity)
    }

    /// Applies the response to every entity: `allocations` are the intensity allocations
    /// (t), `free_factor` the share of them the design gives free.
    pub fn apply(
        &self,
        population: &mut Population,
        firms: &[Firm],
        allocations: &[u64],
        free_factor: f64,
    ) {
        if self.elasticity <= 0.0 {
            return;
        }
        for ((entity, firm), &allocation) in
            population.entities.iter_mut().zip(firms).zip(allocations)
        {
            let generation: f64 = entity.units.iter().map(|u| u.generation_mwh).sum();
            let m = self.multiplier(
                firm.expected_price,
                entity.emissions(),
                allocation as f64 * free_factor,
                generation,
            );
            for unit in &mut entity.units {
                scale_output(unit, m);
            }
        }
    }
}

/// A unit run at `m` times its output: load, generation, supply, heat and fuel.
fn scale_output(unit: &mut SimUnit, m: f64) {
    let whole = |v: u64| ((v as f64) * m).round().max(1.0) as u64;
    unit.load_factor *= m;
    unit.generation_mwh *= m;
    unit.supply_mwh = whole(unit.supply_mwh);
    unit.heat_gj = (unit.heat_gj as f64 * m).round() as u64;
    unit.fuel.consumed = whole(unit.fuel.consumed);
}

/// The population of a scenario after its firms abated, with the firms.
///
/// # Errors
/// As [`crate::generate`], or when the design's allocation cannot be computed.
pub fn abated_population(scenario: &Scenario) -> anyhow::Result<(Population, Vec<Firm>)> {
    let abatement = abate(scenario)?;
    Ok((abatement.population, abatement.firms))
}

/// The firms' abatement decision and what they foresaw when they took it.
#[derive(Debug, Clone)]
pub struct Abatement {
    /// The population before abatement (business as usual).
    pub bau: Population,
    /// The population after abatement.
    pub population: Population,
    /// The firms, with the price each expects after the market-clearing expectation.
    pub firms: Vec<Firm>,
    /// The total final allocation of the intensity rules (output x benchmark), tonnes:
    /// the base an absolute cap or an auction share scales.
    pub intensity_tonnes: u64,
    /// What the firms foresee: the design's total allocation (free and auctioned) plus
    /// the bank and the CCER supply, minus what BAU emissions would oblige them to
    /// surrender (the rulebook's gas and shortfall caps applied), tonnes (negative =
    /// short).
    pub foreseen_position_tonnes: f64,
    /// The shortfall the design adds to the scheme as it is (intensity allocation, all
    /// free), tonnes: the foreseen position of the scheme minus the design's (0 for
    /// the scheme itself; negative when the design is looser).
    pub added_shortfall_tonnes: f64,
    /// The market-clearing expected price p*, yuan/t: the lowest price at which the
    /// firms expecting less abate enough more, along their MAC curves, to close the
    /// shortfall the design adds (0 when it adds none).
    pub clearing_price: f64,
}

/// Decides the firms' abatement: each draws an expected price around the scenario's
/// anchor, then expects at least the market-clearing price p* of the aggregate position
/// it can foresee (and at least the design's price floor), and abates up to its MAC
/// at that price.
///
/// # Errors
/// As [`crate::generate`], or when the design's allocation cannot be computed.
pub fn abate(scenario: &Scenario) -> anyhow::Result<Abatement> {
    abate_expecting(scenario, 0.0)
}

/// [`abate`], with every firm expecting at least `scarcity_price` (yuan/t, 0 = none): the
/// price a multi-year chain's firms foresee when the units the market holds and the
/// year's allocation fall short of what they will owe (`year::foresight::scarcity_price`).
/// The instruments still list where the chain says (the previous close): only the firms'
/// abatement and reservation prices move.
///
/// # Errors
/// As [`abate`].
pub fn abate_expecting(scenario: &Scenario, scarcity_price: f64) -> anyhow::Result<Abatement> {
    let bau = crate::generate(scenario)?;
    let foresight = crate::year::foresight(scenario, &bau.entities)?;
    let intensity: u64 = foresight.allocations.iter().sum();
    let design = &scenario.design;
    let bau_tonnes: f64 = bau.entities.iter().map(|e| e.emissions()).sum();
    let banked: u64 = bau.entities.iter().map(|e| e.banked_2020).sum();
    let ccer = (bau_tonnes * scenario.flexibility.ccer_supply_share).floor();
    // The foreseen position with a total allocation of `total` tonnes, `free` of them
    // given free (every entity's intensity allocation scaled by one factor).
    let position = |total: f64, free: f64| -> f64 {
        let factor = free / intensity.max(1) as f64;
        // What BAU emissions would oblige them to surrender (the rulebook's caps excuse
        // some).
        let owed: f64 = bau
            .entities
            .iter()
            .zip(&foresight.allocations)
            .map(|(e, &a)| {
                let gas = !e.units.is_empty() && e.units.iter().all(SimUnit::is_gas);
                foresight.obligation(e.emissions(), a as f64 * factor, gas)
            })
            .sum();
        total + banked as f64 + ccer - owed
    };
    let total = if design.cap == CapDesign::Absolute {
        design.absolute_cap_mt * 1e6
    } else {
        intensity as f64
    };
    let foreseen = position(total, total * (1.0 - design.auction_share));
    // The anchor is what the calibrated market expected of the scheme as it is (intensity
    // allocation, all free): only the scarcity a design adds to it moves expectations.
    let scheme = position(intensity as f64, intensity as f64);
    let mut firms = firms(scenario, &bau, design.price_floor_yuan.max(0.0));
    let clearing = clearing_price(&firms, scheme - foreseen);
    raise_expectations(&mut firms, clearing.max(scarcity_price));
    let mut population = bau.clone();
    let free_factor = total * (1.0 - design.auction_share) / intensity.max(1) as f64;
    let response = OutputResponse::of(scenario);
    response.apply(&mut population, &firms, &foresight.allocations, free_factor);
    // The intensity allocation follows output: recomputed on what the firms will produce,
    // so a cap or an auction share scales the allocation the engine will make.
    let intensity = if response.elasticity > 0.0 {
        crate::year::foresight(scenario, &population.entities)?
            .allocations
            .iter()
            .sum()
    } else {
        intensity
    };
    apply(&mut population, &firms);
    Ok(Abatement {
        bau,
        population,
        firms,
        intensity_tonnes: intensity,
        foreseen_position_tonnes: foreseen,
        added_shortfall_tonnes: scheme - foreseen,
        clearing_price: clearing,
    })
}

/// The market-clearing expected price, yuan/t: the lowest price `p` at which the
/// firms, each expecting `max(its expectation, p)`, abate `shortfall_tonnes` more than
/// at their own expectations, along their MAC curves (0 when there is no shortfall;
/// the price at which every firm abates all it can when abatement cannot close it).
#[must_use]
pub fn clearing_price(firms: &[Firm], shortfall_tonnes: f64) -> f64 {
    if shortfall_tonnes <= 0.0 {
        return 0.0;
    }
    let more = |price: f64| -> f64 {
        firms
            .iter()
            .map(|f| (f.mac.share_at(price) - f.share).max(0.0) * f.bau_tonnes)
            .sum()
    };
    // Abatement stops growing at the dearest top of any curve.
    let top = firms
        .iter()
        .map(|f| f.mac.marginal(f.mac.max_share()))
        .filter(|c| c.is_finite())
        .fold(0.0, f64::max);
    if more(top) < shortfall_tonnes {
        return top;
    }
    let (mut low, mut high) = (0.0, top);
    for _ in 0..100 {
        let mid = (low + high) / 2.0;
        if more(mid) < shortfall_tonnes {
            low = mid;
        } else {
            high = mid;
        }
    }
    high
}

/// Every firm expects at least `price` and abates up to its MAC at what it expects.
pub fn raise_expectations(firms: &mut [Firm], price: f64) {
    for firm in firms.iter_mut().filter(|f| f.expected_price < price) {
        firm.expected_price = price;
        firm.share = firm.mac.share_at(price);
    }
}

/// The least-cost benchmark: the single marginal cost at which the firms together
/// abate `total_tonnes`, and what that costs (yuan). By convexity of the MAC curves it
/// is never above the cost of any other split of the same total.
#[must_use]
pub fn least_cost(firms: &[Firm], total_tonnes: f64) -> (f64, f64) {
    let abated = |price: f64| -> f64 {
        firms
            .iter()
            .map(|f| f.mac.share_at(price) * f.bau_tonnes)
            .sum()
    };
    let cost = |price: f64| -> f64 {
        firms
            .iter()
            .map(|f| f.mac.cost(f.mac.share_at(price)) * f.bau_tonnes)
            .sum()
    };
    if total_tonnes <= 0.0 {
        return (0.0, 0.0);
    }
    let mut high = 1.0;
    while abated(high) < total_tonnes && high < 1e7 {
        high *= 2.0;
    }
    let mut low = 0.0;
    for _ in 0..100 {
        let mid = (low + high) / 2.0;
        if abated(mid) < total_tonnes {
            low = mid;
        } else {
            high = mid;
        }
    }
    (high, cost(high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_inverts_and_integrates() {
        let mac = Mac::new(&[[0.01, 10.0], [0.03, 50.0]], 1.0);
        assert!((mac.marginal(0.005) - 5.0).abs() < 1e-9);
        assert!((mac.share_at(30.0) - 0.02).abs() < 1e-12);
        assert!((mac.share_at(1_000.0) - 0.03).abs() < 1e-12);
        // 0.01 x 10 / 2 + 0.01 x (10 + 30) / 2 = 0.05 + 0.2
        assert!((mac.cost(0.02) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn output_falls_with_the_carbon_cost_it_bears() {
        let r = OutputResponse {
            elasticity: 0.5,
            power_price: 400.0,
        };
        // 1,000 MWh emitting 900 t at 100 yuan/t: all free -> 10 yuan/MWh net of 800 t
        // free, 90 yuan/MWh with nothing free.
        let subsidised = r.multiplier(100.0, 900.0, 800.0, 1_000.0);
        let bare = r.multiplier(100.0, 900.0, 0.0, 1_000.0);
        assert!(bare < subsidised && subsidised < 1.0, "{bare} {subsidised}");
        assert!((bare - (1.0f64 + 90.0 / 400.0).powf(-0.5)).abs() < 1e-12);
        // Allocated more than it emits: it runs more.
        assert!(r.multiplier(100.0, 900.0, 950.0, 1_000.0) > 1.0);
        let none = OutputResponse {
            elasticity: 0.0,
            power_price: 400.0,
        };
        assert_eq!(none.multiplier(100.0, 900.0, 0.0, 1_000.0), 1.0);
    }

    #[test]
    fn equal_marginal_costs_are_cheapest() {
        let curve = [[0.05, 100.0]];
        let firm = |m: f64, share: f64| Firm {
            bau_tonnes: 1_000.0,
            mac: Mac::new(&curve, m),
            expected_price: 0.0,
            share,
        };
        let firms = [firm(1.0, 0.04), firm(2.0, 0.01)];
        let total: f64 = firms.iter().map(Firm::abatement_tonnes).sum();
        let actual: f64 = firms.iter().map(Firm::abatement_cost).sum();
        let (price, cost) = least_cost(&firms, total);
        assert!(cost <= actual + 1e-6, "{cost} > {actual}");
        assert!(price > 0.0);
    }
}
