//! A chart as data: its title, axis labels and named series. Reports build their
//! charts as [`Chart`]s, so what a chart plots can be checked against its title and
//! the summary it came from, and then draw them as SVG with [`crate::charts`].

use crate::charts::{self, BandPoint, ChartSpec, XAxis};

/// What a chart draws.
#[derive(Debug, Clone, PartialEq)]
pub enum Plot {
    /// Lines: each series a list of `(x, y)` points.
    Lines {
        /// How x values are labelled.
        x_axis: XAxis,
        /// Named series.
        series: Vec<(String, Vec<(f64, f64)>)>,
    },
    /// Grouped bars: one group per category, one bar per series in each group.
    Bars {
        /// The groups, left to right.
        categories: Vec<String>,
        /// Named series; `series[i].1[j]` is series `i` in category `j`.
        series: Vec<(String, Vec<f64>)>,
    },
    /// Bands: each series a list of `(x, low, median, high)` points, drawn as a
    /// shaded band and a median line.
    Bands {
        /// How x values are labelled.
        x_axis: XAxis,
        /// Named series.
        series: Vec<(String, Vec<BandPoint>)>,
    },
    /// A histogram of values.
    Histogram {
        /// The values counted.
        values: Vec<f64>,
        /// Number of bins.
        bins: usize,
    },
}

/// A chart: title, axis labels (with units) and what it plots.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The title, drawn above the plot: it names what the series are.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// The data.
    pub plot: Plot,
}

impl Chart {
    /// The chart as an SVG document.
    #[must_use]
    pub fn svg(&self) -> String {
        let x_axis = match &self.plot {
            Plot::Lines { x_axis, .. } | Plot::Bands { x_axis, .. } => *x_axis,
            _ => XAxis::Number,
        };
        let spec = ChartSpec {
            title: &self.title,
            x_label: &self.x_label,
            y_label: &self.y_label,
            x_axis,
        };
        match &self.plot {
            Plot::Lines { series, .. } => {
                let named: Vec<(&str, &[(f64, f64)])> = series
                    .iter()
                    .map(|(name, points)| (name.as_str(), points.as_slice()))
                    .collect();
                charts::line_chart(&spec, &named)
            }
            Plot::Bars { categories, series } => {
                let named: Vec<(&str, &[f64])> = series
                    .iter()
                    .map(|(name, values)| (name.as_str(), values.as_slice()))
                    .collect();
                charts::grouped_bar_chart(&spec, categories, &named)
            }
            Plot::Bands { series, .. } => {
                let named: Vec<charts::BandSeries<'_>> = series
                    .iter()
                    .map(|(name, points)| charts::BandSeries {
                        name,
                        points: points.as_slice(),
                    })
                    .collect();
                charts::band_chart(&spec, &named)
            }
            Plot::Histogram { values, bins } => charts::histogram(&spec, values, *bins),
        }
    }

    /// The names of the series (empty for a histogram).
    #[must_use]
    pub fn series_names(&self) -> Vec<&str> {
        match &self.plot {
            Plot::Lines { series, .. } => series.iter().map(|s| s.0.as_str()).collect(),
            Plot::Bars { series, .. } => series.iter().map(|s| s.0.as_str()).collect(),
            Plot::Bands { series, .. } => series.iter().map(|s| s.0.as_str()).collect(),
            Plot::Histogram { .. } => Vec::new(),
        }
    }

    /// The y values of the series named `name` (the medians of a band, the values of
    /// a histogram under any name), or `None`.
    #[must_use]
    pub fn values(&self, name: &str) -> Option<Vec<f64>> {
        match &self.plot {
            Plot::Lines { series, .. } => series
                .iter()
                .find(|s| s.0 == name)
                .map(|s| s.1.iter().map(|p| p.1).collect()),
            Plot::Bars { series, .. } => series.iter().find(|s| s.0 == name).map(|s| s.1.clone()),
            Plot::Bands { series, .. } => series
                .iter()
                .find(|s| s.0 == name)
                .map(|s| s.1.iter().map(|p| p.2).collect()),
            Plot::Histogram { values, .. } => Some(values.clone()),
        }
    }
}

/// A chart of lines.
#[must_use]
pub fn lines(
    title: &str,
    (x_label, y_label): (&str, &str),
    x_axis: XAxis,
    series: Vec<(String, Vec<(f64, f64)>)>,
) -> Chart {
    Chart {
        title: title.to_owned(),
        x_label: x_label.to_owned(),
        y_label: y_label.to_owned(),
        plot: Plot::Lines { x_axis, series },
    }
}

/// A chart of grouped bars.
#[must_use]
pub fn bars(
    title: &str,
    (x_label, y_label): (&str, &str),
    categories: Vec<String>,
    series: Vec<(String, Vec<f64>)>,
) -> Chart {
    Chart {
        title: title.to_owned(),
        x_label: x_label.to_owned(),
        y_label: y_label.to_owned(),
        plot: Plot::Bars { categories, series },
    }
}

/// A chart of bands (a shaded 5-95% band and a median line per series).
#[must_use]
pub fn bands(
    title: &str,
    (x_label, y_label): (&str, &str),
    x_axis: XAxis,
    series: Vec<(String, Vec<BandPoint>)>,
) -> Chart {
    Chart {
        title: title.to_owned(),
        x_label: x_label.to_owned(),
        y_label: y_label.to_owned(),
        plot: Plot::Bands { x_axis, series },
    }
}
