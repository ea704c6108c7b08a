//! The execution plan: how a built model runs, decided once rather than on
//! every batch — which layers run fused with the one after them, and whether
//! the output's softmax can be left to the loss. The runner walks the plan and
//! asks the layers themselves ([`LayerKind::fuses_with`]); it knows no layer by
//! name.
//!
//! [`LayerKind::fuses_with`]: crate::layers

use super::ModelLayer;
use crate::layers::Activation;

/// One step: run `node`, or `node` and its only reader `fused` as one op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub node: usize,
    pub fused: Option<usize>,
}

impl Step {
    /// The node whose output this step produces.
    pub fn produces(&self) -> usize {
        self.fused.unwrap_or(self.node)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub steps: Vec<Step>,
    /// The output node ends in a softmax, which a cross-entropy loss can take
    /// over (it then works on the logits).
    pub softmax_output: bool,
    output: usize,
    nodes: usize,
}

impl Plan {
    /// The plan for `nodes` (in an order where inputs come first) with output `output`.
    pub fn new(nodes: &[ModelLayer], output: usize) -> Plan {
        let mut readers = vec![0usize; nodes.len()];
        for node in nodes {
            for &j in &node.inputs {
                readers[j] += 1;
            }
        }
        let mut steps = Vec::with_capacity(nodes.len());
        let mut i = 1; // node 0 is the input
        while i < nodes.len() {
            // A pair fuses when the next node reads only this one, nothing else
            // reads this one, and it is not the output the caller wants to see.
            let fuses = nodes.get(i + 1).is_some_and(|next| {
                next.inputs == [i]
                    && readers[i] == 1
                    && i != output
                    && nodes[i].layer.kind().fuses_with(&next.layer)
            });
            steps.push(Step {
                node: i,
                fused: fuses.then_some(i + 1),
            });
            i += if fuses { 2 } else { 1 };
        }
        let softmax_output = nodes
            .get(output)
            .and_then(|n| n.layer.activation())
            .is_some_and(|a| a == Activation::Softmax);
        Plan {
            steps,
            softmax_output,
            output,
            nodes: nodes.len(),
        }
    }

    /// Whether this plan was made for a graph of this size and output (a
    /// model's graph only grows, so this is how a stale plan shows).
    pub fn fits(&self, nodes: usize, output: usize) -> bool {
        self.nodes == nodes && self.output == output
    }

    /// The activation `node` applies at its output: its own, or linear for a
    /// final softmax when the loss takes logits.
    pub fn activation_of(&self, node: &ModelLayer, index: usize, logits: bool) -> Activation {
        let own = node.layer.activation().unwrap_or_default();
        if logits && self.softmax_output && index == self.output {
            Activation::Linear
        } else {
            own
        }
    }
}
