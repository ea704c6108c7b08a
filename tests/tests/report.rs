//! A notebook's result beside the tutorial's: the verdict follows the metric's
//! direction (higher accuracy, lower error is better) and says by how much.

use dlkit::report::{table, Comparison};

/// The row a result shows: tutorial, model, tutorial's figure, ours, verdict.
fn row(result: &Comparison) -> Vec<String> {
    table(&[result]).rows()[0].clone()
}

#[test]
fn a_higher_accuracy_is_better_and_a_lower_one_worse() {
    let better = Comparison::accuracy("003", "codealong CNN", 0.9916, 0.9926);
    assert_eq!(
        row(&better),
        [
            "003",
            "codealong CNN",
            "99.16%",
            "99.26%",
            "better than the tutorial (by 0.10 pp)"
        ]
    );
    assert_eq!(better.meets_published(), Some(true));

    let worse = Comparison::accuracy("000", "mnist_cnn", 0.9925, 0.9909);
    assert_eq!(row(&worse)[4], "worse than the tutorial (by 0.16 pp)");
    assert_eq!(worse.meets_published(), Some(false));
    assert!((worse.lead_pp().unwrap() + 0.16).abs() < 1e-9);
}

#[test]
fn a_lower_error_is_better_and_a_higher_one_worse() {
    // notebook 002's MLP: 1.88 % error against the tutorial's 1.74 % is worse
    let worse = Comparison::error("002", "baseline MLP", 1.74, 0.9812);
    assert_eq!(
        row(&worse),
        [
            "002",
            "baseline MLP",
            "1.74% error",
            "1.88% error",
            "worse than the tutorial (by 0.14 pp)"
        ]
    );
    assert_eq!(worse.meets_published(), Some(false));

    let better = Comparison::error("002", "larger CNN", 0.89, 0.9913);
    assert_eq!(row(&better)[4], "better than the tutorial (by 0.02 pp)");
    assert_eq!(better.meets_published(), Some(true));
}

#[test]
fn figures_equal_to_two_decimals_match() {
    // 99.164 % shows as 99.16 %, the tutorial's figure
    let accuracy = Comparison::accuracy("003", "codealong CNN", 0.9916, 0.99164);
    assert_eq!(accuracy.verdict(), "matches the tutorial");
    assert_eq!(accuracy.meets_published(), Some(true));
    let error = Comparison::error("002", "simple CNN", 1.10, 0.989);
    assert_eq!(row(&error)[3], "1.10% error");
    assert_eq!(error.verdict(), "matches the tutorial");
    // one step of the shown precision is a difference
    let step = Comparison::error("002", "simple CNN", 1.10, 0.9889);
    assert_eq!(step.verdict(), "worse than the tutorial (by 0.01 pp)");
}

#[test]
fn a_model_without_a_published_figure_says_so_for_either_metric() {
    let error = Comparison::error("002", "branching CNN (functional API)", None, 0.992);
    assert_eq!(
        row(&error),
        [
            "002",
            "branching CNN (functional API)",
            "none",
            "0.80% error",
            "no published figure"
        ]
    );
    assert_eq!(error.published, None);
    assert_eq!(error.meets_published(), None);
    assert_eq!(error.lead_pp(), None);

    let accuracy = Comparison::accuracy("003", "codealong CNN + BatchNormalization", None, 0.9931);
    assert_eq!(
        row(&accuracy)[2..],
        ["none", "99.31%", "no published figure"]
    );
    assert!(accuracy.to_string().contains("no published figure"));
}
