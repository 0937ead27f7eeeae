//! CSV downloads of the UI's tables (RFC 4180): a header line, then one
//! line per row, fields quoted when they hold a comma, a quote or a line
//! break. A text field that a spreadsheet would read as a formula (starting
//! with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`;
//! whole numbers stay numbers.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// A CSV file to download as `file_name`.
pub(crate) fn download(file_name: &str, header_row: &[&str], rows: &[Vec<String>]) -> Response {
    let mut text = line(header_row.iter().map(|cell| (*cell).to_owned()));
    for row in rows {
        text.push_str(&line(row.iter().cloned()));
    }
    let disposition = format!("attachment; filename=\"{file_name}\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response()
}

fn line(cells: impl Iterator<Item = String>) -> String {
    let fields: Vec<String> = cells.map(|cell| field(&cell)).collect();
    let mut line = fields.join(",");
    line.push_str("\r\n");
    line
}

/// One field, defused and quoted as needed.
pub(crate) fn field(cell: &str) -> String {
    let number = cell
        .strip_prefix('-')
        .unwrap_or(cell)
        .bytes()
        .all(|byte| byte.is_ascii_digit())
        && !cell.is_empty()
        && cell != "-";
    let defused = if !number && cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        // Goal: commas and quotes are quoted, formulas cannot run, numbers stay numbers.
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=1+2"), "'=1+2");
        assert_eq!(field("-12"), "-12");
        assert_eq!(field("-x"), "'-x");
        assert_eq!(field("CEA-2021"), "CEA-2021");
    }
}
