//! A price chart drawn on the server as inline SVG: one polyline through the
//! prices of the latest trades, scaled to the lowest and highest of them.

use super::page::price;
use maud::{Markup, html};

const WIDTH: i64 = 600;
const HEIGHT: i64 = 200;
const MARGIN: i64 = 10;

/// The points of the polyline, `x,y` pairs in the SVG's coordinates: trades
/// spread evenly from left to right, the highest price at the top.
pub(crate) fn points(prices_ticks: &[i64]) -> String {
    let (Some(&low), Some(&high)) = (prices_ticks.iter().min(), prices_ticks.iter().max()) else {
        return String::new();
    };
    let span = i128::from(high) - i128::from(low);
    let last_index = i128::try_from(prices_ticks.len().saturating_sub(1)).unwrap_or(i128::MAX);
    let inner_width = i128::from(WIDTH - 2 * MARGIN);
    let inner_height = i128::from(HEIGHT - 2 * MARGIN);
    prices_ticks
        .iter()
        .enumerate()
        .map(|(index, &ticks)| {
            let index = i128::try_from(index).unwrap_or(0);
            let x = if last_index == 0 {
                inner_width / 2
            } else {
                index * inner_width / last_index
            };
            let y = if span == 0 {
                inner_height / 2
            } else {
                (i128::from(high) - i128::from(ticks)) * inner_height / span
            };
            format!("{},{}", x + i128::from(MARGIN), y + i128::from(MARGIN))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The chart, or a note when there are no trades yet.
pub(crate) fn price_chart(symbol: &str, prices_ticks: &[i64]) -> Markup {
    let (Some(&low), Some(&high)) = (prices_ticks.iter().min(), prices_ticks.iter().max()) else {
        return html! { p.muted { "No trades yet." } };
    };
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
                aria-label=(format!("{symbol}: prices of the last {} trades, {} to {}", prices_ticks.len(), price(low), price(high))) {
                rect x="0" y="0" width=(WIDTH) height=(HEIGHT) class="frame" {}
                polyline points=(points(prices_ticks)) class="line" {}
                text x=(MARGIN + 2) y=(MARGIN + 12) class="label" { (price(high)) }
                text x=(MARGIN + 2) y=(HEIGHT - MARGIN - 2) class="label" { (price(low)) }
            }
            figcaption { "Last " (prices_ticks.len()) " trades, oldest on the left." }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_price_is_drawn_at_the_top_and_the_lowest_at_the_bottom() {
        // Goal: prices map to y from top (high) to bottom (low), x left to right.
        assert_eq!(points(&[100, 200, 150]), "10,190 300,10 590,100");
        assert_eq!(points(&[5000]), "300,100");
        assert_eq!(points(&[]), "");
    }
}
