//! `summary()`: Keras' table of layers, output shapes and parameter counts.
//!
//! The value prints as a text table (`println!("{}", model.summary()?)`) and
//! shows as an HTML table when it is the last expression of a notebook cell.

use super::Model;
use crate::error::Result;
use crate::layers::format_shape;

/// A model's summary: one row per layer, then the totals.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub model_name: String,
    /// Column titles: layer, output shape, parameter count (and, for models
    /// with branches, the layers each one is connected to).
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub total_params: usize,
    pub trainable_params: usize,
}

impl Model {
    /// The layer table with Keras' totals. Errors if the model is not built yet.
    pub fn summary(&self) -> Result<Summary> {
        self.require_built()?;
        let branched = self
            .nodes
            .iter()
            .enumerate()
            .any(|(i, n)| n.inputs.len() > 1 || (i > 0 && n.inputs != [i - 1]));
        let mut columns = vec![
            "Layer (type)".to_string(),
            "Output Shape".into(),
            "Param #".into(),
        ];
        if branched {
            columns.push("Connected to".into());
        }
        // Keras lists the input layer of functional models only.
        let skip = usize::from(!branched);
        let rows = self
            .nodes
            .iter()
            .skip(skip)
            .map(|n| {
                let mut row = vec![
                    format!("{} ({})", n.name, n.class_name()),
                    format_shape(&n.output_shape),
                    group_thousands(n.param_count()),
                ];
                if branched {
                    let sources: Vec<String> = n
                        .inputs
                        .iter()
                        .map(|&j| self.nodes[j].name.clone())
                        .collect();
                    row.push(if sources.is_empty() {
                        "-".into()
                    } else {
                        sources.join(", ")
                    });
                }
                row
            })
            .collect();
        Ok(Summary {
            model_name: self.name.clone(),
            columns,
            rows,
            total_params: self.count_params(),
            trainable_params: self.count_trainable_params(),
        })
    }
}

impl Summary {
    /// The three totals lines Keras prints under the table.
    pub fn totals(&self) -> [String; 3] {
        let line =
            |label: &str, n: usize| format!("{label}: {} ({})", group_thousands(n), bytes(n * 4));
        [
            line("Total params", self.total_params),
            line("Trainable params", self.trainable_params),
            line(
                "Non-trainable params",
                self.total_params - self.trainable_params,
            ),
        ]
    }

    /// The table with the totals as its footer.
    pub fn table(&self) -> crate::display::HtmlTable {
        let mut table = crate::display::HtmlTable::new(&self.columns)
            .caption(format!("Model: \"{}\"", self.model_name))
            .align_right(2, true);
        for row in &self.rows {
            table.push_row(row);
        }
        for line in self.totals() {
            table = table.footer(line);
        }
        table
    }

    pub fn to_text(&self) -> String {
        self.table().to_text()
    }

    pub fn to_html(&self) -> String {
        self.table().to_html()
    }

    /// Rich output for evcxr: the HTML table, with the text as fallback.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// `600810` → `600,810`.
pub(crate) fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Sizes as Keras prints them: `2.29 MB`, `0.00 B`.
fn bytes(n: usize) -> String {
    let units = ["B", "KB", "MB", "GB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", units[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_keras() {
        assert_eq!(group_thousands(600810), "600,810");
        assert_eq!(group_thousands(320), "320");
        assert_eq!(bytes(600810 * 4), "2.29 MB");
        assert_eq!(bytes(0), "0.00 B");
    }
}
