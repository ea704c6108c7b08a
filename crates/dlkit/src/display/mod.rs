//! Rich output in notebooks: the evcxr protocol (here), tables ([`HtmlTable`])
//! and tensor printouts ([`show`], [`shape_of`]).
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

mod table;
mod tensor;

pub use table::HtmlTable;
pub use tensor::{dtype_name, shape, shape_of, shape_tuple, show, KerasShape, TensorView};

use std::io::Write;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
