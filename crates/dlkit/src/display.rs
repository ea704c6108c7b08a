//! Rich output in notebooks: tables, tensor printouts and the evcxr protocol.
//!
//! evcxr shows the last expression of a cell richly when its type has an
//! inherent `evcxr_display(&self)` method. That method prints one block per
//! representation to stdout:
//!
//! ```text
//! EVCXR_BEGIN_CONTENT text/html
//! <table>...</table>
//! EVCXR_END_CONTENT
//! ```
//!
//! The kernel reads stdout line by line: a line containing
//! `EVCXR_BEGIN_CONTENT <mime>` opens a block, every following line is content
//! (joined back with `\n`) until a line that is exactly `EVCXR_END_CONTENT`.
//! Blocks are kept per MIME type (a second block of the same type replaces the
//! first) and Jupyter shows the richest one; binary content such as
//! `image/png` is standard base64 on one line. [`emit`] writes such blocks.
//!
//! ```
//! use dlkit::display::{self, HtmlTable};
//! use dlkit::{Device, Tensor};
//!
//! let table = HtmlTable::new(["Layer (type)", "Output Shape", "Param #"])
//!     .row(["conv2d (Conv2D)", "(None, 26, 26, 32)", "320"])
//!     .caption("Model: \"sequential\"");
//! assert!(table.to_html().contains("<td style=\"text-align: right\">320</td>"));
//!
//! let x = Tensor::zeros((60000, 28, 28), dlkit::DType::U8, &Device::Cpu)?;
//! assert_eq!(display::shape_of(&x), "(60000, 28, 28)");
//! # Ok::<(), dlkit::Error>(())
//! ```

use std::fmt;
use std::io::Write;

use candle_core::{DType, Tensor};

use crate::error::Result;

const BEGIN: &str = "EVCXR_BEGIN_CONTENT";
const END: &str = "EVCXR_END_CONTENT";

/// The text of evcxr content blocks, one per `(mime type, content)` pair.
///
/// A content line that reads exactly `EVCXR_END_CONTENT` would end its block
/// early, so such a line gets a zero-width space appended.
pub fn evcxr_blocks(blocks: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (mime, content) in blocks {
        out.push_str(BEGIN);
        out.push(' ');
        out.push_str(mime);
        out.push('\n');
        for (i, line) in content.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(line);
            if line == END {
                out.push('\u{200B}');
            }
        }
        out.push('\n');
        out.push_str(END);
        out.push('\n');
    }
    out
}

/// Prints content blocks for evcxr to stdout in one locked write, so nothing
/// else printed at the same time can land inside a block.
pub fn emit(blocks: &[(&str, &str)]) {
    let text = evcxr_blocks(blocks);
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    // A notebook whose stdout is gone has nowhere to show an error either.
    let _ = lock.write_all(text.as_bytes());
    let _ = lock.flush();
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Tables

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

// ---------------------------------------------------------------------------
// Tensors

/// A tensor's shape written as a Python tuple: `(60000, 28, 28)`, `(10,)`, `()`.
pub fn shape_of(tensor: &Tensor) -> String {
    shape_tuple(tensor.dims())
}

/// [`shape_of`] for a list of dimensions.
pub fn shape_tuple(dims: &[usize]) -> String {
    match dims {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// More elements than this are summarised with `...`, as numpy does.
const SUMMARY_THRESHOLD: usize = 1000;
/// How many items a summarised dimension keeps at each end.
const EDGE_ITEMS: usize = 3;

/// A tensor printed like numpy prints arrays: shape and dtype on the first
/// line, then the values, with `...` in place of the middle of large dimensions.
///
/// ```
/// use dlkit::{display, Device, Tensor};
/// let t = Tensor::new(&[[1f32, 2.5], [3.0, 4.0]], &Device::Cpu)?;
/// assert_eq!(display::show(&t).to_string(), "Tensor (2, 2) f32\n[[1.  2.5]\n [3.  4. ]]");
/// # Ok::<(), dlkit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TensorView {
    tensor: Tensor,
}

/// Wraps a tensor for a readable printout; the last expression of a notebook cell is shown.
pub fn show(tensor: &Tensor) -> TensorView {
    TensorView {
        tensor: tensor.clone(),
    }
}

impl TensorView {
    /// The printout, or the error that stopped reading the values.
    pub fn render(&self) -> Result<String> {
        let t = &self.tensor;
        let dims = t.dims().to_vec();
        let header = format!("Tensor {} {}", shape_of(t), t.dtype().as_str());
        let total: usize = dims.iter().product();
        if total == 0 {
            return Ok(format!("{header}\n[]"));
        }
        let summarise = total > SUMMARY_THRESHOLD;
        // Keep only what will be printed, so a (60000, 28, 28) tensor costs a few hundred values.
        let mut shown = t.clone();
        let mut elided = vec![false; dims.len()];
        if summarise {
            for (d, &n) in dims.iter().enumerate() {
                if n > 2 * EDGE_ITEMS {
                    let head = shown.narrow(d, 0, EDGE_ITEMS)?;
                    let tail = shown.narrow(d, n - EDGE_ITEMS, EDGE_ITEMS)?;
                    shown = Tensor::cat(&[&head, &tail], d)?;
                    elided[d] = true;
                }
            }
        }
        let shown_dims = shown.dims().to_vec();
        let cells = format_values(&shown)?;
        let width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(0);
        let cells: Vec<String> = cells.into_iter().map(|c| format!("{c:>width$}")).collect();
        let mut body = String::new();
        if shown_dims.is_empty() {
            body.push_str(cells[0].trim());
        } else {
            write_nested(&mut body, &cells, &shown_dims, &elided, 0, 0);
        }
        Ok(format!("{header}\n{body}"))
    }

    /// Shows the printout in a notebook.
    pub fn evcxr_display(&self) {
        let text = self
            .render()
            .unwrap_or_else(|e| format!("cannot show the tensor: {e}"));
        emit(&[("text/plain", &text)]);
    }
}

impl fmt::Display for TensorView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.render() {
            Ok(text) => f.write_str(&text),
            Err(e) => write!(f, "cannot show the tensor: {e}"),
        }
    }
}

/// Every value as text, with one precision for the whole tensor as numpy does.
fn format_values(t: &Tensor) -> Result<Vec<String>> {
    if t.dtype().is_int() {
        let values = t.to_dtype(DType::I64)?.flatten_all()?.to_vec1::<i64>()?;
        return Ok(values.iter().map(i64::to_string).collect());
    }
    let values = t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let max_abs = finite.iter().fold(0f64, |m, v| m.max(v.abs()));
    let min_nonzero = finite
        .iter()
        .filter(|v| **v != 0.0)
        .fold(f64::INFINITY, |m, v| m.min(v.abs()));
    let scientific = max_abs >= 1e8 || (min_nonzero < 1e-4 && max_abs / min_nonzero > 1e3);
    let special = |v: f64| {
        if v.is_nan() {
            Some("nan".to_string())
        } else if v.is_infinite() {
            Some(if v > 0.0 { "inf" } else { "-inf" }.to_string())
        } else {
            None
        }
    };
    if scientific {
        return Ok(values
            .iter()
            .map(|&v| special(v).unwrap_or_else(|| format!("{v:.4e}")))
            .collect());
    }
    // Each value with the fewest decimals (at most 4) that show it, "2." for whole numbers.
    let texts: Vec<String> = values
        .iter()
        .map(|&v| {
            special(v).unwrap_or_else(|| {
                let decimals = (0..=4)
                    .find(|&d| {
                        let scaled = v * 10f64.powi(d);
                        (scaled - scaled.round()).abs() < 1e-6 * scaled.abs().max(1.0)
                    })
                    .unwrap_or(4) as usize;
                if decimals == 0 {
                    format!("{v:.0}.")
                } else {
                    format!("{v:.decimals$}")
                }
            })
        })
        .collect();
    // numpy pads trailing decimals with spaces ("1. " under "2.5"): align on the point.
    let frac_width = texts
        .iter()
        .map(|s| s.find('.').map_or(0, |p| s.len() - p))
        .max()
        .unwrap_or(0);
    Ok(texts
        .into_iter()
        .map(|s| {
            let frac = s.find('.').map_or(0, |p| s.len() - p);
            format!("{s}{}", " ".repeat(frac_width.saturating_sub(frac)))
        })
        .collect())
}

/// Writes `cells` (row-major, shape `dims`) as nested brackets.
fn write_nested(
    out: &mut String,
    cells: &[String],
    dims: &[usize],
    elided: &[bool],
    level: usize,
    start: usize,
) {
    let n = dims[level];
    let stride: usize = dims[level + 1..].iter().product();
    let last = level + 1 == dims.len();
    let separator = if last {
        " ".to_string()
    } else {
        format!(
            "{}{}",
            "\n".repeat(dims.len() - level - 1),
            " ".repeat(level + 1)
        )
    };
    out.push('[');
    for i in 0..n {
        if i > 0 {
            out.push_str(&separator);
        }
        if elided[level] && i == EDGE_ITEMS {
            out.push_str("...");
            out.push_str(&separator);
        }
        if last {
            out.push_str(&cells[start + i]);
        } else {
            write_nested(out, cells, dims, elided, level + 1, start + i * stride);
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn blocks_follow_the_evcxr_protocol() {
        let text = evcxr_blocks(&[
            ("text/html", "<b>x</b>\nEVCXR_END_CONTENT"),
            ("text/plain", "x"),
        ]);
        assert_eq!(
            text,
            "EVCXR_BEGIN_CONTENT text/html\n<b>x</b>\nEVCXR_END_CONTENT\u{200B}\nEVCXR_END_CONTENT\n\
             EVCXR_BEGIN_CONTENT text/plain\nx\nEVCXR_END_CONTENT\n"
        );
    }

    #[test]
    fn numeric_detection() {
        for s in ["320", "-1.5e-3", "1,234", "1_000", "98.7%", "0"] {
            assert!(looks_numeric(s), "{s}");
        }
        for s in ["(None, 10)", "", "%", "dense", "1 2"] {
            assert!(!looks_numeric(s), "{s}");
        }
    }

    #[test]
    fn shapes_are_python_tuples() {
        assert_eq!(shape_tuple(&[]), "()");
        assert_eq!(shape_tuple(&[10]), "(10,)");
        assert_eq!(shape_tuple(&[60000, 28, 28]), "(60000, 28, 28)");
    }

    #[test]
    fn small_tensors_print_every_value() {
        let t = Tensor::new(&[[1u8, 20, 3], [4, 5, 255]], &Device::Cpu).unwrap();
        assert_eq!(
            show(&t).to_string(),
            "Tensor (2, 3) u8\n[[  1  20   3]\n [  4   5 255]]"
        );
        let s = Tensor::new(3.5f32, &Device::Cpu).unwrap();
        assert_eq!(show(&s).to_string(), "Tensor () f32\n3.5");
        let f = Tensor::new(&[0.1f32, 0.25, -2.0], &Device::Cpu).unwrap();
        assert_eq!(show(&f).to_string(), "Tensor (3,) f32\n[ 0.1   0.25 -2.  ]");
    }

    #[test]
    fn large_tensors_are_elided_like_numpy() {
        let t = Tensor::arange(0u32, 2000, &Device::Cpu)
            .unwrap()
            .reshape((2, 1000))
            .unwrap();
        let text = show(&t).to_string();
        assert_eq!(text, "Tensor (2, 1000) u32\n[[   0    1    2 ...  997  998  999]\n [1000 1001 1002 ... 1997 1998 1999]]");
        let big = Tensor::zeros((60000, 28, 28), DType::U8, &Device::Cpu).unwrap();
        let text = show(&big).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Tensor (60000, 28, 28) u8");
        assert_eq!(lines[1], "[[[0 0 0 ... 0 0 0]");
        assert!(lines.contains(&" ..."), "{text}");
        // 6 shown images of 6 shown rows each, plus the elision lines.
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("0 0 0 ... 0 0 0"))
                .count(),
            36
        );
    }
}
