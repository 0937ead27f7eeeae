//! Hand-written SVG charts for the policy lab's reports: line charts, bar charts,
//! grouped bars and histograms, each with axes, "nice" ticks, labels and a legend.
//!
//! Inputs are plain slices (a title, named series of `(x, y)` points, labelled
//! bars), so a new field of the year's summary becomes a chart in a few lines.
//! Every chart is one `<svg>` element with a `viewBox`: the same text is written as
//! a `.svg` file and inlined in the HTML page, where CSS scales it to the screen.

use std::fmt::Write as _;

/// Colour-blind-safe palette (Okabe-Ito), one colour per series in order.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 44.0;
const TOP: f64 = 58.0;
const BOTTOM: f64 = 58.0;
const DAY_MS: f64 = 86_400_000.0;

/// What the x axis holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XAxis {
    /// Plain numbers.
    #[default]
    Number,
    /// Days since 1970-01-01 (see [`day_number`]), labelled `YYYY-MM-DD`.
    Date,
}

/// A chart's title and axis labels.
#[derive(Debug, Clone, Default)]
pub struct ChartSpec<'a> {
    /// The title, drawn above the plot.
    pub title: &'a str,
    /// The x axis label (with its unit).
    pub x_label: &'a str,
    /// The y axis label (with its unit).
    pub y_label: &'a str,
    /// How x values are labelled.
    pub x_axis: XAxis,
}

/// Escapes text for SVG and HTML.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

/// The day number (days since 1970-01-01) of a `YYYY-MM-DD` date, or `None` if malformed.
#[must_use]
pub fn day_number(date: &str) -> Option<f64> {
    let mut parts = date.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some((crate::year::date_ms(year, month, day, 0) as f64 / DAY_MS).round())
}

/// `YYYY-MM-DD` of a day number.
#[must_use]
pub fn date_label(day: f64) -> String {
    // `civil` reads Beijing time; midnight UTC is the same civil day there.
    crate::report::civil((day.round() * DAY_MS) as i64)
}

/// Round tick values covering `[low, high]`: about `target` of them, at steps of
/// 1, 2 or 5 times a power of ten.
#[must_use]
pub fn nice_ticks(low: f64, high: f64, target: usize) -> Vec<f64> {
    if !low.is_finite() || !high.is_finite() {
        return vec![0.0];
    }
    let (low, high) = if high > low {
        (low, high)
    } else {
        (low - 1.0, low + 1.0)
    };
    let rough = (high - low) / target.max(1) as f64;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    let first = (low / step).floor() as i64;
    let last = (high / step).ceil() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A tick label with as many decimals as the step needs, and thousands separated.
#[must_use]
pub fn tick_label(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 || step <= 0.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    let text = format!("{value:.decimals$}");
    let (sign, digits) = text
        .strip_prefix('-')
        .map_or(("", text.as_str()), |rest| ("-", rest));
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign =
        if grouped.chars().all(|c| c == '0' || c == ',') && fraction.chars().all(|c| c == '0') {
            ""
        } else {
            sign
        };
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction}")
    }
}

/// The plot area and the mapping from data to pixels.
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        let span = (self.x.1 - self.x.0).max(f64::EPSILON);
        LEFT + (x - self.x.0) / span * (WIDTH - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        let span = (self.y.1 - self.y.0).max(f64::EPSILON);
        HEIGHT - BOTTOM - (y - self.y.0) / span * (HEIGHT - TOP - BOTTOM)
    }
}

fn open(svg: &mut String, spec: &ChartSpec<'_>) {
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" font-family=\"system-ui, sans-serif\">"
    );
    let _ = writeln!(svg, "<title>{}</title>", escape(spec.title));
    let _ = writeln!(
        svg,
        "<rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>"
    );
    let _ = writeln!(
        svg,
        "<text x=\"{LEFT}\" y=\"22\" font-size=\"17\" font-weight=\"600\" fill=\"#222\">{}</text>",
        escape(spec.title)
    );
}

/// Grid lines, y ticks and labels, axis labels; x ticks are drawn by the caller.
fn y_axis(svg: &mut String, frame: &Frame, ticks: &[f64], spec: &ChartSpec<'_>) {
    let step = ticks.get(1).zip(ticks.first()).map_or(1.0, |(b, a)| b - a);
    for &tick in ticks {
        let y = frame.py(tick);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e3e3\"/>",
            WIDTH - RIGHT
        );
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"end\" fill=\"#444\">{}</text>",
            LEFT - 6.0,
            y + 4.0,
            tick_label(tick, step)
        );
    }
    let bottom = HEIGHT - BOTTOM;
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{bottom}\" y2=\"{bottom}\" stroke=\"#555\"/>",
        WIDTH - RIGHT
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{bottom}\" stroke=\"#555\"/>"
    );
    let middle = (TOP + bottom) / 2.0;
    let _ = writeln!(
        svg,
        "<text x=\"16\" y=\"{middle:.1}\" font-size=\"13\" text-anchor=\"middle\" fill=\"#444\" transform=\"rotate(-90 16 {middle:.1})\">{}</text>",
        escape(spec.y_label)
    );
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"middle\" fill=\"#444\">{}</text>",
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 10.0,
        escape(spec.x_label)
    );
}

fn x_tick(svg: &mut String, x: f64, label: &str) {
    let bottom = HEIGHT - BOTTOM;
    let _ = writeln!(
        svg,
        "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{bottom}\" y2=\"{:.1}\" stroke=\"#555\"/>",
        bottom + 5.0
    );
    let _ = writeln!(
        svg,
        "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"middle\" fill=\"#444\">{}</text>",
        bottom + 19.0,
        escape(label)
    );
}

/// One legend entry per name, in a row under the title.
fn legend(svg: &mut String, names: &[&str]) {
    if names.len() < 2 {
        return;
    }
    let mut x = LEFT;
    for (i, name) in names.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.1}\" y=\"32\" width=\"12\" height=\"12\" fill=\"{colour}\"/>"
        );
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"42\" font-size=\"13\" fill=\"#222\">{}</text>",
            x + 16.0,
            escape(name)
        );
        x += 30.0 + 7.5 * name.chars().count() as f64;
    }
}

fn no_data(svg: &mut String) {
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"14\" text-anchor=\"middle\" fill=\"#777\">no data</text>",
        WIDTH / 2.0,
        HEIGHT / 2.0
    );
}

/// The y range of the data, widened to nice ticks; from zero when `from_zero`.
fn y_ticks(values: impl Iterator<Item = f64>, from_zero: bool) -> Vec<f64> {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        low = low.min(v);
        high = high.max(v);
    }
    if !low.is_finite() {
        return nice_ticks(0.0, 1.0, 5);
    }
    if from_zero {
        low = low.min(0.0);
        high = high.max(0.0);
    }
    nice_ticks(low, high, 5)
}

fn x_labels(svg: &mut String, frame: &Frame, axis: XAxis) {
    match axis {
        XAxis::Date => {
            let (a, b) = frame.x;
            let count = if b - a >= 4.0 { 4 } else { 1 };
            for i in 0..=count {
                let day = (a + (b - a) * i as f64 / count as f64).round();
                x_tick(svg, frame.px(day), &date_label(day));
            }
        }
        XAxis::Number => {
            let ticks = nice_ticks(frame.x.0, frame.x.1, 6);
            let step = ticks.get(1).zip(ticks.first()).map_or(1.0, |(b, a)| b - a);
            for tick in ticks
                .into_iter()
                .filter(|t| *t >= frame.x.0 - 1e-9 && *t <= frame.x.1 + 1e-9)
            {
                x_tick(svg, frame.px(tick), &tick_label(tick, step));
            }
        }
    }
}

/// A line chart: one polyline per named series of `(x, y)` points, with a legend
/// when there is more than one series. Empty series draw nothing; no points at all
/// draws "no data".
#[must_use]
pub fn line_chart(spec: &ChartSpec<'_>, series: &[(&str, &[(f64, f64)])]) -> String {
    let mut svg = String::new();
    open(&mut svg, spec);
    let points = || series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    for (x, _) in points() {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
    }
    let ticks = y_ticks(points().map(|p| p.1), false);
    let frame = Frame {
        x: if x0.is_finite() {
            if x1 > x0 {
                (x0, x1)
            } else {
                (x0 - 1.0, x0 + 1.0)
            }
        } else {
            (0.0, 1.0)
        },
        y: (ticks[0], ticks[ticks.len() - 1]),
    };
    y_axis(&mut svg, &frame, &ticks, spec);
    if x0.is_finite() {
        x_labels(&mut svg, &frame, spec.x_axis);
    } else {
        no_data(&mut svg);
    }
    for (i, (_, points)) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let path: Vec<String> = points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| format!("{:.1},{:.1}", frame.px(*x), frame.py(*y)))
            .collect();
        if path.len() == 1 {
            let (x, y) = path[0].split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                svg,
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{colour}\"/>"
            );
        } else if !path.is_empty() {
            let _ = writeln!(
                svg,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"{}\"/>",
                path.join(" ")
            );
        }
    }
    let names: Vec<&str> = series.iter().map(|s| s.0).collect();
    legend(&mut svg, &names);
    svg.push_str("</svg>\n");
    svg
}

/// A point of a band: `(x, low edge, median, high edge)`.
pub type BandPoint = (f64, f64, f64, f64);

/// One band of a [`band_chart`]: a name and, per x, the low edge, the median and
/// the high edge (e.g. the 5% quantile, the median and the 95% quantile).
#[derive(Debug, Clone, PartialEq)]
pub struct BandSeries<'a> {
    /// The name in the legend.
    pub name: &'a str,
    /// `(x, low, median, high)`, in x order.
    pub points: &'a [BandPoint],
}

/// A frame over x values and y values: the y axis on nice ticks.
fn frame_of(xs: impl Iterator<Item = f64>, ys: impl Iterator<Item = f64>) -> (Frame, Vec<f64>) {
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in xs.filter(|x| x.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
    }
    let ticks = y_ticks(ys, false);
    let x = match (x0.is_finite(), x1 > x0) {
        (false, _) => (0.0, 1.0),
        (true, true) => (x0, x1),
        (true, false) => (x0 - 1.0, x0 + 1.0),
    };
    let y = (ticks[0], ticks[ticks.len() - 1]);
    (Frame { x, y }, ticks)
}

/// A band chart: per series a shaded band between its low and high edges and a
/// line through its medians, with a legend when there is more than one series.
/// No points at all draws "no data".
#[must_use]
pub fn band_chart(spec: &ChartSpec<'_>, series: &[BandSeries<'_>]) -> String {
    let mut svg = String::new();
    open(&mut svg, spec);
    let points = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite() && p.2.is_finite() && p.3.is_finite())
    };
    let (frame, ticks) = frame_of(
        points().map(|p| p.0),
        points().flat_map(|p| [p.1, p.2, p.3]),
    );
    y_axis(&mut svg, &frame, &ticks, spec);
    if points().next().is_some() {
        x_labels(&mut svg, &frame, spec.x_axis);
    } else {
        no_data(&mut svg);
    }
    for (i, band) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let finite: Vec<BandPoint> = band
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite() && p.2.is_finite() && p.3.is_finite())
            .collect();
        let edge = |(x, y): (f64, f64)| format!("{:.1},{:.1}", frame.px(x), frame.py(y));
        let outline: Vec<String> = finite
            .iter()
            .map(|p| edge((p.0, p.3)))
            .chain(finite.iter().rev().map(|p| edge((p.0, p.1))))
            .collect();
        if finite.len() > 1 {
            let _ = writeln!(
                svg,
                "<polygon fill=\"{colour}\" fill-opacity=\"0.2\" stroke=\"none\" points=\"{}\"/>",
                outline.join(" ")
            );
        }
        let median: Vec<String> = finite.iter().map(|p| edge((p.0, p.2))).collect();
        draw_line(&mut svg, &median, colour);
    }
    let names: Vec<&str> = series.iter().map(|s| s.name).collect();
    legend(&mut svg, &names);
    svg.push_str("</svg>\n");
    svg
}

/// A line through `path` (`x,y` pixel pairs), or a dot when it has one point.
fn draw_line(svg: &mut String, path: &[String], colour: &str) {
    if path.len() == 1 {
        let (x, y) = path[0].split_once(',').unwrap_or(("0", "0"));
        let _ = writeln!(
            svg,
            "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{colour}\"/>"
        );
    } else if !path.is_empty() {
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"{}\"/>",
            path.join(" ")
        );
    }
}

/// A bar chart of labelled values (in order); at most five x labels are drawn.
#[must_use]
pub fn bar_chart(spec: &ChartSpec<'_>, bars: &[(String, f64)]) -> String {
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let values: Vec<f64> = bars.iter().map(|b| b.1).collect();
    grouped_bar_chart(spec, &labels, &[("", &values)])
}

/// Bars grouped by category: one bar per series in each category, a legend when
/// there is more than one series. `series[i].1[j]` is series `i` in category `j`.
#[must_use]
pub fn grouped_bar_chart(
    spec: &ChartSpec<'_>,
    categories: &[String],
    series: &[(&str, &[f64])],
) -> String {
    let mut svg = String::new();
    open(&mut svg, spec);
    let ticks = y_ticks(series.iter().flat_map(|s| s.1.iter().copied()), true);
    let frame = Frame {
        x: (0.0, categories.len().max(1) as f64),
        y: (ticks[0], ticks[ticks.len() - 1]),
    };
    y_axis(&mut svg, &frame, &ticks, spec);
    if categories.is_empty() {
        no_data(&mut svg);
    }
    let slot = (WIDTH - LEFT - RIGHT) / categories.len().max(1) as f64;
    let groups = series.len().max(1) as f64;
    let bar = (slot * 0.8 / groups).max(0.5);
    let every = categories.len().div_ceil(5).max(1);
    for (j, category) in categories.iter().enumerate() {
        let left = frame.px(j as f64) + slot * 0.1;
        for (i, (_, values)) in series.iter().enumerate() {
            let Some(&value) = values.get(j) else {
                continue;
            };
            if !value.is_finite() {
                continue;
            }
            let (top, base) = (frame.py(value.max(0.0)), frame.py(value.min(0.0)));
            let _ = writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {value}</title></rect>",
                left + i as f64 * bar,
                (base - top).max(0.0),
                PALETTE[i % PALETTE.len()],
                escape(category)
            );
        }
        if j % every == 0 {
            x_tick(&mut svg, left + slot * 0.4, category);
        }
    }
    let names: Vec<&str> = series.iter().map(|s| s.0).collect();
    legend(&mut svg, &names);
    svg.push_str("</svg>\n");
    svg
}

/// Counts of `values` in `bins` equal bins between their minimum and maximum:
/// `(bin start, bin end, count)`.
#[must_use]
pub fn bin_counts(values: &[f64], bins: usize) -> Vec<(f64, f64, usize)> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let bins = bins.max(1);
    let low = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let high = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if finite.is_empty() {
        return Vec::new();
    }
    let width = if high > low {
        (high - low) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0usize; bins];
    for v in finite {
        let index = (((v - low) / width) as usize).min(bins - 1);
        counts[index] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, n)| (low + i as f64 * width, low + (i + 1) as f64 * width, n))
        .collect()
}

/// A histogram of `values` in `bins` equal bins, on a numeric x axis.
#[must_use]
pub fn histogram(spec: &ChartSpec<'_>, values: &[f64], bins: usize) -> String {
    let counts = bin_counts(values, bins);
    let mut svg = String::new();
    open(&mut svg, spec);
    let ticks = y_ticks(counts.iter().map(|c| c.2 as f64), true);
    let frame = Frame {
        x: counts
            .first()
            .zip(counts.last())
            .map_or((0.0, 1.0), |(a, b)| (a.0, b.1)),
        y: (ticks[0], ticks[ticks.len() - 1]),
    };
    y_axis(&mut svg, &frame, &ticks, spec);
    if counts.is_empty() {
        no_data(&mut svg);
    } else {
        x_labels(&mut svg, &frame, XAxis::Number);
    }
    for (start, end, n) in &counts {
        let (x, right, top) = (frame.px(*start), frame.px(*end), frame.py(*n as f64));
        let _ = writeln!(
            svg,
            "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" stroke=\"#ffffff\"><title>{start:.1} to {end:.1}: {n}</title></rect>",
            x,
            (right - x).max(0.5),
            (frame.py(0.0) - top).max(0.0),
            PALETTE[0]
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ChartSpec<'static> {
        ChartSpec {
            title: "Price <CEA> & co",
            x_label: "day",
            y_label: "yuan/t",
            x_axis: XAxis::Date,
        }
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            nice_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        let ticks = nice_ticks(37.45, 47.74, 5);
        assert!(ticks[0] <= 37.45 && *ticks.last().expect("ticks") >= 47.74);
        assert_eq!(ticks, vec![35.0, 40.0, 45.0, 50.0]);
        // A flat range still gets an axis.
        assert!(nice_ticks(5.0, 5.0, 5).len() >= 2);
    }

    #[test]
    fn tick_labels_group_thousands_and_keep_the_steps_decimals() {
        assert_eq!(tick_label(1_234_567.0, 1_000.0), "1,234,567");
        assert_eq!(tick_label(0.25, 0.05), "0.25");
        assert_eq!(tick_label(-0.0, 1.0), "0");
        assert_eq!(tick_label(-1500.0, 500.0), "-1,500");
    }

    #[test]
    fn dates_round_trip_through_day_numbers() {
        let day = day_number("2023-09-04").expect("a date");
        assert_eq!(date_label(day), "2023-09-04");
        assert_eq!(day_number("2023-13-01"), None);
        assert_eq!(day_number("yesterday"), None);
    }

    #[test]
    fn a_line_chart_draws_one_line_per_series_a_legend_and_escapes_text() {
        let a = [(19_600.0, 40.0), (19_601.0, 42.0), (19_605.0, 41.0)];
        let b = [(19_600.0, 41.0), (19_605.0, 44.0)];
        let svg = line_chart(&spec(), &[("close", &a), ("VWAP", &b)]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">close</text>") && svg.contains(">VWAP</text>"));
        assert!(svg.contains("Price &lt;CEA&gt; &amp; co"));
        assert!(!svg.contains("<CEA>"));
        assert!(svg.contains(&date_label(19_600.0)));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn a_band_chart_shades_each_band_and_draws_its_median() {
        let a = [
            (1.0, 1.0, 2.0, 3.0),
            (2.0, 2.0, 3.0, 5.0),
            (3.0, 1.5, 2.5, 4.0),
        ];
        let b = [(1.0, 4.0, 5.0, 6.0), (3.0, 4.0, 6.0, 7.0)];
        let spec = ChartSpec {
            x_axis: XAxis::Number,
            ..spec()
        };
        let svg = band_chart(
            &spec,
            &[
                BandSeries {
                    name: "base",
                    points: &a,
                },
                BandSeries {
                    name: "variant",
                    points: &b,
                },
            ],
        );
        assert_eq!(svg.matches("<polygon").count(), 2);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">base</text>") && svg.contains(">variant</text>"));
        assert!(band_chart(&spec, &[]).contains("no data"));
    }

    #[test]
    fn an_empty_chart_says_so_instead_of_failing() {
        assert!(line_chart(&spec(), &[("close", &[])]).contains("no data"));
        assert!(bar_chart(&spec(), &[]).contains("no data"));
        assert!(histogram(&spec(), &[], 10).contains("no data"));
    }

    #[test]
    fn bars_are_drawn_per_category_and_series_and_labels_are_thinned() {
        let bars: Vec<(String, f64)> = (0..30).map(|i| (format!("d{i}"), f64::from(i))).collect();
        let svg = bar_chart(&spec(), &bars);
        assert_eq!(svg.matches("<rect x=").count(), 30);
        assert!(svg.contains(">d0</text>") && !svg.contains(">d1</text>"));
        let svg = grouped_bar_chart(
            &spec(),
            &["a".into(), "b".into()],
            &[("simulated", &[1.0, 2.0]), ("published", &[1.5, 2.5])],
        );
        assert_eq!(
            svg.matches("<rect x=").count(),
            4 + 2,
            "4 bars and 2 legend keys"
        );
    }

    #[test]
    fn histogram_bins_count_every_value_once() {
        let values = [0.0, 0.1, 0.5, 0.9, 1.0, -3.0];
        let bins = bin_counts(&values, 4);
        assert_eq!(bins.len(), 4);
        assert_eq!(bins.iter().map(|b| b.2).sum::<usize>(), values.len());
        assert_eq!(bins[0].0, -3.0);
        assert_eq!(bins[3].1, 1.0);
        assert_eq!(
            bin_counts(&[2.0, 2.0], 3)
                .iter()
                .map(|b| b.2)
                .sum::<usize>(),
            2
        );
    }
}
