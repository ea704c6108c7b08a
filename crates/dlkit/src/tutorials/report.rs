//! A notebook's result beside the tutorial's published figure.
//!
//! ```
//! use dlkit::report::Comparison;
//! let result = Comparison::accuracy("003", "Codealong CNN", 0.9916, 0.9921).train_seconds(312.0);
//! assert_eq!(result.verdict(), "better than the tutorial (by 0.05 pp)");
//! let error = Comparison::error("002", "baseline MLP", 1.74, 0.9812);
//! assert_eq!(error.verdict(), "worse than the tutorial (by 0.14 pp)");
//! let extra = Comparison::error("002", "branching CNN", None, 0.9920);
//! assert_eq!(extra.verdict(), "no published figure");
//! ```
//!
//! The verdict follows the metric's direction (higher accuracy, lower error is
//! better) and says by how much in percentage points. Both figures are compared
//! as shown, rounded to two decimals in percent: equal there is "matches the
//! tutorial", since a difference the table cannot show is no result either way.
//!
//! As the last expression of a cell it shows a small table; the same facts go
//! out as JSON (`application/vnd.dlkit.result+json`), which the script that
//! executes all notebooks collects into the README's results table.

use crate::display::{emit, HtmlTable};
use serde::Serialize;

/// Half the smallest step the table shows (0.01 pp): two figures closer than
/// this after rounding to two decimals are the same figure.
const MATCH_PP: f64 = 0.005;

/// The JSON mime type the notebook runner reads.
pub const RESULT_MIME: &str = "application/vnd.dlkit.result+json";

/// How a tutorial states its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Test accuracy, higher is better.
    Accuracy,
    /// Test error in percent (100 − accuracy·100), lower is better.
    Error,
}

/// Our test result next to the tutorial's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub tutorial: String,
    pub model: String,
    pub metric: Measure,
    /// The tutorial's figure (accuracy in [0, 1], or error in percent);
    /// `None` when the tutorial reports none.
    pub published: Option<f64>,
    /// Ours, in the same unit.
    pub ours: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_seconds: Option<f64>,
}

impl Comparison {
    /// Compares test accuracies (both in [0, 1]).
    pub fn accuracy(
        tutorial: &str,
        model: &str,
        published: impl Into<Option<f64>>,
        ours: f64,
    ) -> Self {
        Comparison {
            tutorial: tutorial.into(),
            model: model.into(),
            metric: Measure::Accuracy,
            published: published.into(),
            ours,
            train_seconds: None,
        }
    }

    /// Compares test errors in percent, from our accuracy in [0, 1]; the
    /// published error may be `None` for a model the tutorial gives no figure for.
    pub fn error(
        tutorial: &str,
        model: &str,
        published_error_percent: impl Into<Option<f64>>,
        our_accuracy: f64,
    ) -> Self {
        Comparison {
            metric: Measure::Error,
            published: published_error_percent.into(),
            ours: 100.0 * (1.0 - our_accuracy),
            ..Comparison::accuracy(tutorial, model, None, 0.0)
        }
    }

    /// Records how long training took (e.g. the sum of `history.epoch_seconds`).
    pub fn train_seconds(mut self, seconds: f64) -> Self {
        self.train_seconds = Some(seconds);
        self
    }

    /// How far we are ahead of the tutorial in percentage points, as the
    /// table shows both figures (rounded to two decimals in percent): positive
    /// is better whatever the metric; `None` without a published figure.
    pub fn lead_pp(&self) -> Option<f64> {
        let shown = |v: f64| (self.in_percent(v) * 100.0).round() / 100.0;
        self.published.map(|p| {
            let gap = shown(self.ours) - shown(p);
            match self.metric {
                Measure::Accuracy => gap,
                Measure::Error => -gap,
            }
        })
    }

    /// Whether we reached the tutorial's figure (matching it counts).
    pub fn meets_published(&self) -> Option<bool> {
        self.lead_pp().map(|lead| lead > -MATCH_PP)
    }

    /// "better than the tutorial (by 0.10 pp)", "worse than the tutorial (by
    /// 0.14 pp)", "matches the tutorial" or "no published figure".
    pub fn verdict(&self) -> String {
        match self.lead_pp() {
            None => "no published figure".into(),
            Some(lead) if lead.abs() < MATCH_PP => "matches the tutorial".into(),
            Some(lead) if lead > 0.0 => format!("better than the tutorial (by {lead:.2} pp)"),
            Some(lead) => format!("worse than the tutorial (by {:.2} pp)", -lead),
        }
    }

    fn in_percent(&self, value: f64) -> f64 {
        match self.metric {
            Measure::Accuracy => 100.0 * value,
            Measure::Error => value,
        }
    }

    fn format(&self, value: f64) -> String {
        match self.metric {
            Measure::Accuracy => format!("{:.2}%", 100.0 * value),
            Measure::Error => format!("{value:.2}% error"),
        }
    }

    fn table(&self) -> HtmlTable {
        let published = self.published.map_or("none".into(), |p| self.format(p));
        let mut table =
            HtmlTable::new(["Tutorial", "Model", "Tutorial's figure", "dlkit", "Verdict"]).row([
                self.tutorial.clone(),
                self.model.clone(),
                published,
                self.format(self.ours),
                self.verdict(),
            ]);
        if let Some(s) = self.train_seconds {
            table = table.footer(format!("training time: {:.1} min", s / 60.0));
        }
        table
    }

    /// Rich output for evcxr: a table, its text, and the JSON for the results runner.
    pub fn evcxr_display(&self) {
        let json = serde_json::to_string(self).unwrap_or_default();
        let table = self.table();
        emit(&[
            ("text/html", &table.to_html()),
            ("text/plain", &table.to_text()),
            (RESULT_MIME, &json),
        ]);
    }
}

/// Several results in one table: what [`table`] returns.
///
/// As a cell's last expression it shows one table, and gives the results
/// runner every row's JSON, so a notebook needs no cell per result.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultsTable {
    table: HtmlTable,
    results: Vec<Comparison>,
}

impl ResultsTable {
    /// The rows as shown: tutorial, model, tutorial's figure, ours, verdict.
    pub fn rows(&self) -> &[Vec<String>] {
        self.table.rows()
    }

    /// The results, in the table's order.
    pub fn results(&self) -> &[Comparison] {
        &self.results
    }

    /// Rich output for evcxr: the table, its text, and the JSON list of results.
    pub fn evcxr_display(&self) {
        let json = serde_json::to_string(&self.results).unwrap_or_default();
        emit(&[
            ("text/html", &self.table.to_html()),
            ("text/plain", &self.table.to_text()),
            (RESULT_MIME, &json),
        ]);
    }
}

impl std::fmt::Display for ResultsTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.table.to_text())
    }
}

/// Several results in one table.
///
/// It takes references, `table(&[&mlp_result, &cnn_result])`: in a notebook,
/// a cell's last expression that moved stored variables (`&[mlp_result, ...]`
/// builds an array of the values themselves) would make evcxr drop those
/// variables from the session and show the table as Debug text. With
/// references that form does not compile (rustc suggests the `&`). For an
/// array of results, `table(&results.each_ref())`.
///
/// ```
/// use dlkit::report::{table, Comparison};
/// let mlp = Comparison::error("002", "MLP", 1.74, 0.9831);
/// let cnn = Comparison::error("002", "CNN", 1.10, 0.9902);
/// let shown = table(&[&mlp, &cnn]);
/// assert_eq!(shown.rows().len(), 2);
/// assert_eq!(mlp.model, "MLP"); // both still usable
/// let results = [mlp, cnn];
/// assert_eq!(table(&results.each_ref()), shown);
/// ```
pub fn table(results: &[&Comparison]) -> ResultsTable {
    let mut table = HtmlTable::new(["Tutorial", "Model", "Tutorial's figure", "dlkit", "Verdict"]);
    for r in results {
        if let Some(row) = r.table().rows().first() {
            table.push_row(row);
        }
    }
    ResultsTable {
        table,
        results: results.iter().map(|&r| r.clone()).collect(),
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.table().to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_lower_is_better_and_json_has_the_runner_keys() {
        let c = Comparison::error("002", "MLP", 1.74, 0.9831);
        assert!((c.ours - 1.69).abs() < 1e-9);
        assert_eq!(c.meets_published(), Some(true));
        let json: serde_json::Value = serde_json::to_value(&c).unwrap();
        for key in ["tutorial", "model", "metric", "published", "ours"] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["metric"], "error");
        let worse = Comparison::accuracy("003", "CNN", 0.9916, 0.99);
        assert_eq!(worse.meets_published(), Some(false));
        assert!(worse.to_string().contains("99.16%"));
        assert_eq!(
            Comparison::accuracy("004", "LSTM", None, 0.98).meets_published(),
            None
        );
    }

    #[test]
    fn table_borrows_its_results_and_keeps_their_order() {
        let a = Comparison::accuracy("004", "DNN", None, 0.97);
        let b = Comparison::error("002", "CNN", 1.10, 0.99);
        let shown = table(&[&a, &b]);
        let models: Vec<&str> = shown.rows().iter().map(|r| r[1].as_str()).collect();
        assert_eq!(models, ["DNN", "CNN"]);
        assert_eq!(shown.rows()[1][3], "1.00% error");
        // the results are still there after the call
        assert_eq!(table(&[&b]).rows()[0], shown.rows()[1]);
        assert!(table(&[]).rows().is_empty());
    }

    #[test]
    fn a_table_carries_every_result_for_the_runner() {
        let a = Comparison::accuracy("004", "DNN", None, 0.97).train_seconds(2.0);
        let b = Comparison::accuracy("004", "LSTM", None, 0.98);
        let shown = table(&[&a, &b]);
        assert_eq!(shown.results(), [a, b]);
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(shown.results()).unwrap()).unwrap();
        assert_eq!(json[1]["model"], "LSTM");
        assert_eq!(json[0]["train_seconds"], 2.0);
    }
}
