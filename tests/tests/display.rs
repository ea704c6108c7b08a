//! Notebook output: tables for model summaries, tensor printouts, shapes.

use dlkit::display::{self, HtmlTable};
use dlkit::{DType, Device, Tensor};

fn summary_table() -> HtmlTable {
    HtmlTable::new(["Layer (type)", "Output Shape", "Param #"])
        .row(["conv2d (Conv2D)", "(None, 26, 26, 32)", "320"])
        .row(["max_pooling2d (MaxPooling2D)", "(None, 13, 13, 32)", "0"])
        .row(["dense <out> & \"co\"", "(None, 10)", "1,290"])
        .caption("Model: \"sequential\"")
        .footer("Total params: 1,610")
}

#[test]
fn html_escapes_and_right_aligns_numbers() {
    let html = summary_table().to_html();
    assert!(
        html.contains("dense &lt;out&gt; &amp; &quot;co&quot;"),
        "{html}"
    );
    assert!(!html.contains("<out>"));
    assert!(html.contains("<caption style=\"caption-side: top; text-align: left; font-weight: bold\">Model: &quot;sequential&quot;</caption>"));
    assert!(html.contains("<th style=\"text-align: right\">Param #</th>"));
    assert!(html.contains("<td style=\"text-align: right\">1,290</td>"));
    assert!(html.contains("<td style=\"text-align: left\">(None, 10)</td>"));
    assert!(html.contains("<div>Total params: 1,610</div>"));
    assert_eq!(html.matches("<tr>").count(), 4, "header and three rows");
}

#[test]
fn text_has_box_borders_and_aligned_columns() {
    let text = summary_table().to_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Model: \"sequential\"");
    assert!(lines[1].starts_with('┌') && lines[1].ends_with('┐'));
    assert_eq!(
        lines[2],
        "│ Layer (type)                 │ Output Shape       │ Param # │"
    );
    assert!(lines[3].starts_with('├'));
    assert_eq!(
        lines[4],
        "│ conv2d (Conv2D)              │ (None, 26, 26, 32) │     320 │"
    );
    assert!(lines[7].starts_with('└'));
    assert_eq!(lines[8], " Total params: 1,610");
    // Every bordered line has the same width.
    let widths: Vec<usize> = lines[1..8].iter().map(|l| l.chars().count()).collect();
    assert!(widths.iter().all(|&w| w == widths[0]), "{widths:?}");
    assert_eq!(format!("{}", summary_table()), text);
}

#[test]
fn ragged_rows_and_forced_alignment() {
    let table = HtmlTable::new(["a", "b"])
        .row(["1"])
        .row(["x", "y", "extra"])
        .align_right(0, false);
    let text = table.to_text();
    assert!(text.contains("│ 1 │   │       │"), "{text}");
    assert!(text.contains("│ x │ y │ extra │"), "{text}");
    let mut t = HtmlTable::new(["n"]);
    for i in 0..3 {
        t.push_row([i * 100]);
    }
    assert_eq!(t.rows().len(), 3);
    assert!(
        t.to_text().contains("│   0 │"),
        "numbers are right-aligned: {}",
        t.to_text()
    );
}

#[test]
fn evcxr_blocks_of_a_table() {
    let table = summary_table();
    let blocks = display::evcxr_blocks(&[
        ("text/html", &table.to_html()),
        ("text/plain", &table.to_text()),
    ]);
    let lines: Vec<&str> = blocks.lines().collect();
    assert_eq!(lines[0], "EVCXR_BEGIN_CONTENT text/html");
    assert_eq!(
        lines.iter().filter(|l| **l == "EVCXR_END_CONTENT").count(),
        2
    );
    assert!(lines.contains(&"EVCXR_BEGIN_CONTENT text/plain"));
    assert!(blocks.ends_with("EVCXR_END_CONTENT\n"));
}

#[test]
fn shapes_and_tensor_printouts() {
    let dev = Device::Cpu;
    let x = Tensor::zeros((60000, 28, 28), DType::U8, &dev).unwrap();
    assert_eq!(display::shape_of(&x), "(60000, 28, 28)");
    assert_eq!(
        display::shape_of(&Tensor::zeros(10, DType::F32, &dev).unwrap()),
        "(10,)"
    );
    let y = Tensor::new(&[[0f32, 1.0, 0.0], [0.5, 0.25, 0.25]], &dev).unwrap();
    assert_eq!(
        display::show(&y).to_string(),
        "Tensor (2, 3) float32\n[[0.   1.   0.  ]\n [0.5  0.25 0.25]]"
    );
    let big = Tensor::arange(0f32, 10_000.0, &dev)
        .unwrap()
        .reshape((100, 100))
        .unwrap();
    let text = display::show(&big).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 7, "header, 3 rows, '...', 3 rows: {text}");
    assert_eq!(lines[1], "[[   0.    1.    2. ...   97.   98.   99.]");
    assert_eq!(lines[4], " ...");
    assert_eq!(lines[7], " [9900. 9901. 9902. ... 9997. 9998. 9999.]]");
}
