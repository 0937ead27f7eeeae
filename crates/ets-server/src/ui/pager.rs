//! Pagination for every table of the UI: which page was asked for
//! (`?page=N`, from 1), the rows it holds, the totals shown above the table
//! and links to the other pages that keep the page's filters. A page beyond
//! the last is refused with a message naming the last page.

use maud::{Markup, html};
use std::collections::BTreeMap;

/// Rows per page of every table.
pub(crate) const PER_PAGE: u64 = 50;

/// The query parameters of a page's address.
pub(crate) type Query = BTreeMap<String, String>;

/// One page of a table of `total` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pager {
    /// The page shown, from 1.
    pub(crate) page: u64,
    /// Rows per page.
    pub(crate) per_page: u64,
    /// Rows of the whole table.
    pub(crate) total: u64,
}

/// The page a query asks for: `page`, 1 when absent.
///
/// # Errors
/// A message when `page` is not a whole number from 1.
pub(crate) fn requested_page(query: &Query) -> Result<u64, String> {
    match query.get("page").map(|text| text.trim()) {
        None | Some("") => Ok(1),
        Some(text) => match text.parse::<u64>() {
            Ok(page) if page >= 1 => Ok(page),
            _ => Err(format!(
                "page must be a whole number from 1; it is {text:?}"
            )),
        },
    }
}

impl Pager {
    /// Page `page` of `total` rows, [`PER_PAGE`] to a page.
    ///
    /// # Errors
    /// A message when the page is beyond the last one (page 1 of an empty table is not).
    pub(crate) fn new(page: u64, total: u64) -> Result<Pager, String> {
        let pager = Pager {
            page,
            per_page: PER_PAGE,
            total,
        };
        if page > pager.last_page() {
            return Err(format!(
                "page {page} is beyond the end: there are {total} rows, so the last page is {}",
                pager.last_page()
            ));
        }
        Ok(pager)
    }

    /// The number of the last page (1 for an empty table).
    pub(crate) fn last_page(&self) -> u64 {
        self.total.div_ceil(self.per_page).max(1)
    }

    /// How many rows come before this page.
    pub(crate) fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// This page's part of `rows` (all of the table's rows, in order).
    pub(crate) fn slice<'a, T>(&self, rows: &'a [T]) -> &'a [T] {
        let start = usize::try_from(self.offset())
            .unwrap_or(usize::MAX)
            .min(rows.len());
        let end = start
            .saturating_add(usize::try_from(self.per_page).unwrap_or(usize::MAX))
            .min(rows.len());
        &rows[start..end]
    }

    /// "Rows 51 to 100 of 2,200" and links to the first, previous, next
    /// and last pages, keeping the other parameters of `query`.
    pub(crate) fn nav(&self, path: &str, query: &Query, id: &str) -> Markup {
        let first_row = if self.total == 0 {
            0
        } else {
            self.offset() + 1
        };
        let last_row = (self.offset() + self.per_page).min(self.total);
        let link = |page: u64| address(path, query, Some(page));
        html! {
            nav.pager id=(id) aria-label="pages" {
                span.total {
                    "Rows " (super::page::tonnes(first_row)) " to " (super::page::tonnes(last_row))
                    " of " strong.count { (super::page::tonnes(self.total)) }
                    " · page " (self.page) " of " (self.last_page())
                }
                @if self.page > 1 {
                    a href=(link(1)) rel="first" { "« first" }
                    a href=(link(self.page - 1)) rel="prev" { "‹ previous" }
                }
                @if self.page < self.last_page() {
                    a href=(link(self.page + 1)) rel="next" { "next ›" }
                    a href=(link(self.last_page())) rel="last" { "last »" }
                }
            }
        }
    }
}

/// `path?query` with `page` set (or removed when `None`), parameters
/// percent-encoded.
pub(crate) fn address(path: &str, query: &Query, page: Option<u64>) -> String {
    let mut parameters: Vec<(String, String)> = query
        .iter()
        .filter(|(name, value)| name.as_str() != "page" && !value.is_empty())
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    if let Some(page) = page {
        parameters.push(("page".to_owned(), page.to_string()));
    }
    if parameters.is_empty() {
        return path.to_owned();
    }
    let encoded: Vec<String> = parameters
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect();
    format!("{path}?{}", encoded.join("&"))
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_the_rows_and_refuse_beyond_the_end() {
        // Goal: 120 rows make pages of 50, 50 and 20; page 4 is refused with the last page named.
        let rows: Vec<u64> = (0..120).collect();
        let third = Pager::new(3, 120).expect("page 3");
        assert_eq!(third.slice(&rows), &rows[100..]);
        assert_eq!(third.last_page(), 3);
        let error = Pager::new(4, 120).expect_err("beyond");
        assert!(error.contains("last page is 3"), "{error}");
        assert_eq!(Pager::new(1, 0).expect("empty").slice(&rows[..0]).len(), 0);
        assert!(requested_page(&Query::from([("page".into(), "0".into())])).is_err());
        assert!(requested_page(&Query::from([("page".into(), "x<".into())])).is_err());
    }

    #[test]
    fn links_keep_the_filters_encoded() {
        // Goal: a filter with markup or quotes travels percent-encoded, never raw.
        let query = Query::from([
            ("q".to_owned(), "<b>\"x\" & y".to_owned()),
            ("page".to_owned(), "2".to_owned()),
        ]);
        let link = address("/ui/search", &query, Some(3));
        assert_eq!(link, "/ui/search?q=%3Cb%3E%22x%22%20%26%20y&page=3");
    }
}
