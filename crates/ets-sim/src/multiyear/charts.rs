//! The charts of a chain's ensemble and sweep, as data ([`crate::figure::Chart`]) so a
//! test can hold each title against the series it plots: per calendar year, the median
//! and the 5-95% band of the secondary volume and the average price over the seeds,
//! beside the published figures; and, for a sweep, each calendar year's median and band
//! against the swept value.

use super::ensemble::{ChainMember, year_bands};
use super::report::calendar_years;
use super::{Chain, PublishedYear};
use crate::charts::{BandPoint, XAxis};
use crate::ensemble::Band;
use crate::figure::{Chart, bands};
use crate::report::capitalised;

/// The name of the simulated series in the ensemble's charts.
pub const SIMULATED: &str = "simulated";
/// The name of the published series in the ensemble's charts.
pub const PUBLISHED: &str = "published";

/// Which figure of a calendar year a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Secondary volume, Mt.
    Volume,
    /// Volume-weighted average price, yuan/t.
    Price,
}

impl Figure {
    /// Both figures, in the order the reports show them.
    pub const ALL: [Figure; 2] = [Figure::Volume, Figure::Price];

    /// The figure's words in a title.
    #[must_use]
    pub fn words(self) -> &'static str {
        match self {
            Figure::Volume => "secondary volume",
            Figure::Price => "average price",
        }
    }

    /// The y axis label, with its unit.
    #[must_use]
    pub fn unit(self) -> &'static str {
        match self {
            Figure::Volume => "Mt",
            Figure::Price => "yuan/t",
        }
    }

    /// The file stem of its chart (`volume`, `price`).
    #[must_use]
    pub fn stem(self) -> &'static str {
        match self {
            Figure::Volume => "volume",
            Figure::Price => "price",
        }
    }

    /// The band of this figure over `members` in `year` (`None`: no member traded).
    fn band(self, members: &[ChainMember], year: i32) -> Option<Band> {
        let (volume, price) = year_bands(members, year);
        match self {
            Figure::Volume => Some(volume),
            Figure::Price => price,
        }
    }

    /// The published value of this figure.
    fn published(self, year: &PublishedYear) -> f64 {
        match self {
            Figure::Volume => year.traded_mt,
            Figure::Price => year.average_price,
        }
    }
}

fn point(x: f64, band: &Band) -> BandPoint {
    (x, band.low, band.median, band.high)
}

/// The ensemble's chart of `figure` per calendar year: the members' median and 5-95%
/// band (a year no member traded in is left out of the price) and the published
/// figure of each year that has one (drawn as a line: a band of no width).
#[must_use]
pub fn ensemble_chart(chain: &Chain, members: &[ChainMember], figure: Figure) -> Chart {
    let all = members.iter().flat_map(|m| m.years.iter());
    let years = calendar_years(all, &chain.published);
    let simulated: Vec<BandPoint> = years
        .iter()
        .filter_map(|&year| Some(point(f64::from(year), &figure.band(members, year)?)))
        .collect();
    let published: Vec<BandPoint> = chain
        .published
        .iter()
        .map(|p| {
            let value = figure.published(p);
            (f64::from(p.year), value, value, value)
        })
        .collect();
    let title = format!(
        "{} per calendar year: {SIMULATED} (median and 5-95% band over {} seeds) and {PUBLISHED}",
        capitalised(figure.words()),
        members.len()
    );
    bands(
        &title,
        ("calendar year", figure.unit()),
        XAxis::Number,
        vec![
            (SIMULATED.to_owned(), simulated),
            (PUBLISHED.to_owned(), published),
        ],
    )
}

/// The sweep's chart of `figure` against the swept setting `key`: one series per
/// calendar year (named by the year), each point the median and 5-95% band over the
/// seeds of one swept value. `points` are the swept values and their members.
#[must_use]
pub fn sweep_chart(key: &str, points: &[(f64, Vec<ChainMember>)], figure: Figure) -> Chart {
    let all = points.iter().flat_map(|(_, members)| members.iter());
    let years = calendar_years(all.flat_map(|m| m.years.iter()), &[]);
    let series = years
        .iter()
        .map(|&year| {
            let line: Vec<BandPoint> = points
                .iter()
                .filter_map(|(value, members)| Some(point(*value, &figure.band(members, year)?)))
                .collect();
            (year.to_string(), line)
        })
        .filter(|(_, line)| !line.is_empty())
        .collect();
    let title = format!(
        "{} of each calendar year against {key} (median and 5-95% band over the seeds)",
        capitalised(figure.words())
    );
    bands(&title, (key, figure.unit()), XAxis::Number, series)
}
