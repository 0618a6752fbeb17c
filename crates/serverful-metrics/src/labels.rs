//! Label sets as plain structs of strings, encoded in a fixed order.

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};

/// Encodes `pairs` (label name, value) as one label set.
pub(crate) fn encode_pairs(
    encoder: &mut LabelSetEncoder,
    pairs: &[(&str, &str)],
) -> Result<(), std::fmt::Error> {
    pairs.encode(encoder)
}

/// `{stack, function}`: one function of one stack.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct FunctionLabels {
    pub stack: String,
    pub function: String,
}

impl EncodeLabelSet for FunctionLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        encode_pairs(
            encoder,
            &[("stack", &self.stack), ("function", &self.function)],
        )
    }
}

/// `{listener}`, or any other single label.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct OneLabel {
    pub name: &'static str,
    pub value: String,
}

impl EncodeLabelSet for OneLabel {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        encode_pairs(encoder, &[(self.name, &self.value)])
    }
}
