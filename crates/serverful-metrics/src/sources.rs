//! Metrics read at scrape time rather than counted as things happen: the depth of each
//! queue, the asynchronous events waiting, the age of each stream mapping's position.
//! The crate that knows the numbers implements [`Source`]; the registry asks it at each
//! scrape.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, LabelSetEncoder};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// Something that reports gauges when scraped.
pub trait Source: Send + Sync + 'static {
    /// The families of gauges as they are now. Each family is reported even with no
    /// gauge, so that its name is always known to Prometheus.
    fn collect(&self) -> Vec<GaugeFamily>;
}

/// One metric name with its values.
#[derive(Debug, Clone, PartialEq)]
pub struct GaugeFamily {
    /// A full Prometheus name with its unit: `serverful_sqs_queue_messages`; a counter's
    /// without `_total`, which the encoding adds.
    pub name: &'static str,
    pub help: &'static str,
    /// A gauge, or a counter whose values only grow (kept by the source since start-up).
    pub kind: Kind,
    pub gauges: Vec<Gauge>,
}

/// Whether a [`GaugeFamily`]'s values go up and down or only up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

/// One labelled value of a [`GaugeFamily`].
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

pub(crate) struct SourceCollector(pub Arc<dyn Source>);

impl std::fmt::Debug for SourceCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceCollector")
    }
}

struct Labels<'a>(&'a [(&'static str, String)]);

impl prometheus_client::encoding::EncodeLabelSet for Labels<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        for (name, value) in self.0 {
            let pair = (*name, value.as_str());
            prometheus_client::encoding::EncodeLabel::encode(&pair, encoder.encode_label())?;
        }
        Ok(())
    }
}

impl Collector for SourceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in self.0.collect() {
            encode_gauges(&mut encoder, &family)?;
        }
        Ok(())
    }
}

/// Writes one family of gauges.
pub(crate) fn encode_gauges(
    encoder: &mut DescriptorEncoder,
    family: &GaugeFamily,
) -> Result<(), std::fmt::Error> {
    let metric_type = match family.kind {
        Kind::Gauge => MetricType::Gauge,
        Kind::Counter => MetricType::Counter,
    };
    let mut metric = encoder.encode_descriptor(family.name, family.help, None, metric_type)?;
    for gauge in &family.gauges {
        let labels = Labels(&gauge.labels);
        let series = metric.encode_family(&labels)?;
        match family.kind {
            Kind::Gauge => ConstGauge::new(gauge.value).encode(series)?,
            Kind::Counter => ConstCounter::new(gauge.value).encode(series)?,
        }
    }
    Ok(())
}
