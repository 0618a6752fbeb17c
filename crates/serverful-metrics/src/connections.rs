//! `serverful_open_connections{listener}`: connections open now on each listener.

use prometheus_client::metrics::family::Family as Series;
use prometheus_client::metrics::gauge;
use prometheus_client::registry::Registry;

use crate::labels::OneLabel;

#[derive(Clone)]
pub(crate) struct Family(Series<OneLabel, gauge::Gauge>);

impl Family {
    pub fn register(registry: &mut Registry) -> Family {
        let family = Series::<OneLabel, gauge::Gauge>::default();
        registry.register(
            "serverful_open_connections",
            "Connections open now on each listener (gateway, aws, admin)",
            family.clone(),
        );
        Family(family)
    }

    pub fn gauge(&self, listener: &str) -> ConnectionGauge {
        let gauge = self.0.get_or_create_owned(&OneLabel {
            name: "listener",
            value: listener.to_owned(),
        });
        ConnectionGauge(Some(gauge))
    }
}

/// Counts one listener's open connections; does nothing when metrics are off.
#[derive(Clone, Debug, Default)]
pub struct ConnectionGauge(Option<gauge::Gauge>);

impl ConnectionGauge {
    /// Counts a connection as open until the returned guard is dropped.
    pub fn open(&self) -> OpenConnection {
        if let Some(gauge) = &self.0 {
            gauge.inc();
        }
        OpenConnection(self.0.clone())
    }
}

/// One open connection, counted until dropped.
#[derive(Debug)]
pub struct OpenConnection(Option<gauge::Gauge>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if let Some(gauge) = &self.0 {
            gauge.dec();
        }
    }
}
