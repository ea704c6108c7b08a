//! [`HtmlTable`]: a table shown as HTML in notebooks and with box-drawing
//! borders in text.

use std::fmt;

use super::{emit, escape_html};

/// A table shown as HTML in notebooks and with box-drawing borders in text.
///
/// Columns whose cells are all numbers (`320`, `1,234`, `-0.5`, `98.7%`) are
/// right-aligned; [`HtmlTable::align_right`] overrides the guess.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HtmlTable {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    caption: Option<String>,
    footer: Vec<String>,
    alignment: Vec<(usize, bool)>,
}

impl HtmlTable {
    /// A table with these column headers and no rows yet.
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        HtmlTable {
            headers: headers.into_iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        }
    }

    /// Adds a row (builder style). Rows shorter than the header are padded with empty cells.
    pub fn row<I, S>(mut self, cells: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.push_row(cells);
        self
    }

    /// Adds a row to a table held in a variable (for loops).
    pub fn push_row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.rows
            .push(cells.into_iter().map(|c| c.to_string()).collect());
    }

    /// A title shown above the table.
    pub fn caption(mut self, text: impl ToString) -> Self {
        self.caption = Some(text.to_string());
        self
    }

    /// A line shown under the table (e.g. `Total params: 1,199,882`); may be called repeatedly.
    pub fn footer(mut self, line: impl ToString) -> Self {
        self.footer.push(line.to_string());
        self
    }

    /// Forces column `column` (0-based) to be right-aligned (`true`) or left-aligned.
    pub fn align_right(mut self, column: usize, right: bool) -> Self {
        self.alignment.retain(|&(c, _)| c != column);
        self.alignment.push((column, right));
        self
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    fn columns(&self) -> usize {
        self.rows
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0)
    }

    fn cell(row: &[String], column: usize) -> &str {
        row.get(column).map(String::as_str).unwrap_or("")
    }

    /// Whether each column is right-aligned: forced, or all its non-empty cells are numbers.
    fn right_aligned(&self) -> Vec<bool> {
        (0..self.columns())
            .map(|c| {
                if let Some(&(_, right)) = self.alignment.iter().find(|(col, _)| *col == c) {
                    return right;
                }
                let mut cells = self
                    .rows
                    .iter()
                    .map(|r| Self::cell(r, c).trim())
                    .filter(|s| !s.is_empty());
                let mut any = false;
                let all = cells.all(|s| {
                    any = true;
                    looks_numeric(s)
                });
                any && all
            })
            .collect()
    }

    /// The table as an HTML fragment.
    pub fn to_html(&self) -> String {
        let right = self.right_aligned();
        let align = |c: usize| if right[c] { "right" } else { "left" };
        let cell_html = |text: &str| escape_html(text).replace('\n', "<br>");
        let mut html = String::from("<div class=\"dlkit-table\">\n<table>\n");
        if let Some(caption) = &self.caption {
            html.push_str(&format!(
                "<caption style=\"caption-side: top; text-align: left; font-weight: bold\">{}</caption>\n",
                cell_html(caption)
            ));
        }
        html.push_str("<thead><tr>");
        for c in 0..self.columns() {
            html.push_str(&format!(
                "<th style=\"text-align: {}\">{}</th>",
                align(c),
                cell_html(Self::cell(&self.headers, c))
            ));
        }
        html.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            html.push_str("<tr>");
            for c in 0..self.columns() {
                html.push_str(&format!(
                    "<td style=\"text-align: {}\">{}</td>",
                    align(c),
                    cell_html(Self::cell(row, c))
                ));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</tbody>\n</table>\n");
        for line in &self.footer {
            html.push_str(&format!("<div>{}</div>\n", cell_html(line)));
        }
        html.push_str("</div>");
        html
    }

    /// The table as monospace text with box-drawing borders.
    pub fn to_text(&self) -> String {
        let columns = self.columns();
        let right = self.right_aligned();
        let flat = |s: &str| s.replace('\n', " ");
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                std::iter::once(&self.headers)
                    .chain(&self.rows)
                    .map(|r| flat(Self::cell(r, c)).chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let rule = |left: char, mid: char, right_end: char| {
            let mut line = String::new();
            line.push(left);
            for (c, w) in widths.iter().enumerate() {
                if c > 0 {
                    line.push(mid);
                }
                line.push_str(&"─".repeat(w + 2));
            }
            line.push(right_end);
            line.push('\n');
            line
        };
        let line = |row: &[String]| {
            let mut line = String::from("│");
            for (c, &w) in widths.iter().enumerate() {
                let text = flat(Self::cell(row, c));
                let pad = " ".repeat(w - text.chars().count());
                if right[c] {
                    line.push_str(&format!(" {pad}{text} │"));
                } else {
                    line.push_str(&format!(" {text}{pad} │"));
                }
            }
            line.push('\n');
            line
        };
        let mut out = String::new();
        if let Some(caption) = &self.caption {
            out.push_str(&flat(caption));
            out.push('\n');
        }
        out.push_str(&rule('┌', '┬', '┐'));
        out.push_str(&line(&self.headers));
        out.push_str(&rule('├', '┼', '┤'));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out.push_str(&rule('└', '┴', '┘'));
        for footer in &self.footer {
            out.push(' ');
            out.push_str(&flat(footer));
            out.push('\n');
        }
        out
    }

    /// Shows the table in a notebook (HTML, with the text form as fallback).
    pub fn evcxr_display(&self) {
        emit(&[
            ("text/html", &self.to_html()),
            ("text/plain", &self.to_text()),
        ]);
    }
}

impl fmt::Display for HtmlTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// `320`, `-1.5e-3`, `1,234`, `1_000`, `98.7%` are numbers; `(None, 10)` is not.
fn looks_numeric(cell: &str) -> bool {
    let body = cell
        .strip_suffix('%')
        .unwrap_or(cell)
        .replace([',', '_'], "");
    !body.is_empty() && body.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_detection() {
        for s in ["320", "-1.5e-3", "1,234", "1_000", "98.7%", "0"] {
            assert!(looks_numeric(s), "{s}");
        }
        for s in ["(None, 10)", "", "%", "dense", "1 2"] {
            assert!(!looks_numeric(s), "{s}");
        }
    }
}
