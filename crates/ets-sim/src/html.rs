//! A self-contained HTML page for the policy lab's reports: one file, a small
//! stylesheet, inline SVG charts, tables that scroll sideways on a phone. No
//! scripts, no external fonts or images.

use crate::charts::escape;
use std::fmt::Write as _;

/// The stylesheet: readable on a phone (fluid charts, scrolling tables, system fonts).
const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:60rem;\
padding:1rem;color:#222;line-height:1.45}\
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}\
p{overflow-wrap:anywhere}p.note{color:#555;font-size:.9rem}\
.table{overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0;font-size:.92rem}\
th,td{padding:.3rem .6rem;border-bottom:1px solid #e5e5e5;text-align:right;white-space:nowrap}\
th{white-space:normal;vertical-align:bottom;min-width:4.5rem}\
th:first-child,td:first-child{text-align:left;white-space:normal;min-width:6rem}\
thead th{background:#f4f6f8}\
td.text{text-align:left;white-space:normal}\
@media (max-width:40rem){.table table,.table tbody,.table tr,.table td{display:block;width:100%}\
.table thead{display:none}.table tr{border:1px solid #ddd;border-radius:.4rem;margin:.5rem 0;padding:.2rem 0}\
.table td{display:flex;justify-content:space-between;gap:1rem;text-align:right;white-space:normal;border:0}\
.table td::before{content:attr(data-label);text-align:left;color:#555;font-size:.85rem}}\
figure{margin:1rem 0}figure svg{width:100%;height:auto;max-width:640px;display:block}\
figcaption{font-size:.85rem;color:#555}\
code{font-size:.85em;word-break:break-all}\
.cards{display:flex;flex-wrap:wrap;gap:.6rem}\
.card{border:1px solid #ddd;border-radius:.4rem;padding:.5rem .8rem;min-width:9rem}\
.card b{display:block;font-size:1.25rem}.card span{font-size:.8rem;color:#555}";

/// A page under construction: sections are appended in order.
#[derive(Debug, Clone, Default)]
pub struct Page {
    title: String,
    body: String,
}

impl Page {
    /// A page with a title (also its first heading).
    #[must_use]
    pub fn new(title: &str) -> Page {
        let mut page = Page {
            title: title.to_owned(),
            body: String::new(),
        };
        let _ = writeln!(page.body, "<h1>{}</h1>", escape(title));
        page
    }

    /// A second-level heading.
    pub fn heading(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h2>{}</h2>", escape(text));
    }

    /// A paragraph of plain text (escaped).
    pub fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
    }

    /// A paragraph in small grey print.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p class=\"note\">{}</p>", escape(text));
    }

    /// Headline figures as cards: `(value, what it is)`.
    pub fn cards(&mut self, cards: &[(String, &str)]) {
        self.body.push_str("<div class=\"cards\">\n");
        for (value, label) in cards {
            let _ = writeln!(
                self.body,
                "<div class=\"card\"><b>{}</b><span>{}</span></div>",
                escape(value),
                escape(label)
            );
        }
        self.body.push_str("</div>\n");
    }

    /// A table: a header row and rows of cells (text, escaped). On a phone each row
    /// stacks into a card whose cells carry their column's name (`data-label`).
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        self.body
            .push_str("<div class=\"table\"><table><thead><tr>");
        for cell in header {
            let _ = write!(self.body, "<th>{}</th>", escape(cell));
        }
        self.body.push_str("</tr></thead><tbody>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for (n, cell) in row.iter().enumerate() {
                let label = header.get(n).copied().unwrap_or_default();
                let _ = write!(
                    self.body,
                    "<td data-label=\"{}\">{}</td>",
                    escape(label),
                    escape(cell)
                );
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody></table></div>\n");
    }

    /// A report section: its heading, note and table.
    pub fn section(&mut self, section: &crate::report::Section) {
        self.heading(section.heading);
        if !section.note.is_empty() {
            self.note(&section.note);
        }
        self.table(&section.header, &section.rows);
    }

    /// A sentence followed by a link to `href` (a file beside the page).
    pub fn link(&mut self, text: &str, href: &str, label: &str) {
        let _ = writeln!(
            self.body,
            "<p>{} <a href=\"{}\">{}</a></p>",
            escape(text),
            escape(href),
            escape(label)
        );
    }

    /// An inline SVG chart with a caption.
    pub fn figure(&mut self, svg: &str, caption: &str) {
        let _ = writeln!(
            self.body,
            "<figure>{}<figcaption>{}</figcaption></figure>",
            svg.trim_end(),
            escape(caption)
        );
    }

    /// The whole page.
    #[must_use]
    pub fn render(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
            escape(&self.title),
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_one_self_contained_document_with_escaped_text() {
        let mut page = Page::new("Run <1>");
        page.heading("Figures");
        page.table(&["Figure", "Value"], &[vec!["a & b".into(), "1".into()]]);
        page.figure("<svg viewBox=\"0 0 1 1\"></svg>\n", "a chart");
        page.cards(&[("42.85".into(), "yuan/t")]);
        let html = page.render();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("name=\"viewport\""));
        assert!(html.contains("<title>Run &lt;1&gt;</title>"));
        assert!(html.contains("<td data-label=\"Figure\">a &amp; b</td>"));
        assert!(html.contains("<figure><svg"));
        assert!(
            !html.contains("<script") && !html.contains("http://") && !html.contains("https://")
        );
    }
}
