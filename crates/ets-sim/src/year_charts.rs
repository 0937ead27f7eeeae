//! The charts of a year's report as data ([`Chart`]): each title names the series
//! it plots, and each series is read from the summary or the per-entity figures.

use crate::charts::XAxis;
use crate::figure::{self, Chart, Plot};
use crate::report::{EntityFigures, YearSummary, cumulative_volume_mt, day_series};

/// The series name of the daily close.
pub const CLOSE: &str = "close";
/// The series name of the daily VWAP.
pub const VWAP: &str = "VWAP (days with trades)";
/// The series name of secondary volume.
pub const SECONDARY: &str = "secondary trading";
/// The series name of auction sales.
pub const AUCTION: &str = "auction sales";
/// The series name of the compliance cost.
pub const COMPLIANCE_COST: &str = "compliance cost";
/// The series name of the abatement cost.
pub const ABATEMENT_COST: &str = "abatement cost";
/// The series name of the least-cost benchmark.
pub const LEAST_COST: &str = "least cost of the same abatement";

impl YearSummary {
    /// The chart named by its file stem (see [`crate::report::CHARTS`]); `None` for
    /// an unknown stem.
    #[must_use]
    pub fn chart(&self, stem: &str, figures: &EntityFigures) -> Option<Chart> {
        Some(match stem {
            "price" => self.price_chart(),
            "daily_volume" => self.daily_volume_chart(),
            "cumulative_volume" => figure::lines(
                "Cumulative secondary volume",
                ("trading day", "Mt"),
                XAxis::Date,
                vec![(
                    SECONDARY.to_owned(),
                    cumulative_volume_mt(&self.daily_volume),
                )],
            ),
            "positions" => positions_chart(figures),
            "compliance" => self.compliance_chart(),
            "cost" => cost_chart(&[("this run".to_owned(), self)]),
            _ => return None,
        })
    }

    fn price_chart(&self) -> Chart {
        let mut series = vec![(CLOSE.to_owned(), day_series(&self.daily_close))];
        let title = if self.daily_vwap.is_empty() {
            "Daily close of the price-forming book"
        } else {
            series.push((VWAP.to_owned(), day_series(&self.daily_vwap)));
            "Daily close and VWAP of the price-forming book"
        };
        figure::lines(title, ("trading day", "yuan/t"), XAxis::Date, series)
    }

    fn daily_volume_chart(&self) -> Chart {
        let (days, kt): (Vec<String>, Vec<f64>) = self
            .daily_volume
            .iter()
            .map(|(day, tonnes)| (day.clone(), *tonnes as f64 / 1e3))
            .unzip();
        figure::bars(
            "Secondary volume per trading day",
            ("trading day", "kt"),
            days,
            vec![(SECONDARY.to_owned(), kt)],
        )
    }

    fn compliance_chart(&self) -> Chart {
        let p = &self.published;
        // A figure not published for the period is drawn as 0 (the table says "not published").
        let published = [
            p.entity_share(p.entities_full_on_time),
            p.compliance_by_quantity,
        ]
        .map(|rate| rate.map_or(0.0, |r| r * 100.0));
        figure::bars(
            "Compliance rate, simulated and published",
            ("", "%"),
            vec!["in full on time, by entity".into(), "by quantity".into()],
            vec![
                (
                    "simulated".into(),
                    vec![
                        self.compliance_rate * 100.0,
                        self.quantity_compliance_rate * 100.0,
                    ],
                ),
                ("published".into(), published.to_vec()),
            ],
        )
    }
}

/// Compliance cost, abatement cost and the least cost of the same abatement, per run
/// (`(label, summary)`), million yuan.
#[must_use]
pub fn cost_chart(runs: &[(String, &YearSummary)]) -> Chart {
    let of = |f: &dyn Fn(&YearSummary) -> f64| runs.iter().map(|(_, s)| f(s) / 1e6).collect();
    figure::bars(
        "Compliance cost and abatement cost vs least cost",
        ("", "million yuan"),
        runs.iter().map(|r| r.0.clone()).collect(),
        vec![
            (COMPLIANCE_COST.to_owned(), of(&|s| s.compliance_cost_yuan)),
            (ABATEMENT_COST.to_owned(), of(&|s| s.abatement_cost_yuan)),
            (LEAST_COST.to_owned(), of(&|s| s.least_cost_yuan)),
        ],
    )
}

/// A histogram of the entities' positions before trading, kt.
#[must_use]
pub fn positions_chart(figures: &EntityFigures) -> Chart {
    Chart {
        title: "Positions before trading (allocation less verified emissions)".into(),
        x_label: "kt CO2 (negative = short)".into(),
        y_label: "entities".into(),
        plot: Plot::Histogram {
            values: figures.positions_tonnes.iter().map(|t| t / 1e3).collect(),
            bins: 30,
        },
    }
}
