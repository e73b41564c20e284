//! Prometheus metrics, served as text on the separate metrics listener. Nothing here
//! carries an id, an address or a size of any one group: only totals.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The label of a rejected frame: why it was rejected (an error code's slug).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// The reason.
    pub reason: String,
}

/// Every metric the relay keeps.
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Connections accepted since start.
    pub connections_total: Counter,
    /// Frames received from clients.
    pub frames_in: Counter,
    /// Frames sent to clients.
    pub frames_out: Counter,
    /// Payload bytes stored (all groups).
    pub bytes_stored: Gauge,
    /// Messages stored (all groups).
    pub messages_stored: Gauge,
    /// Groups stored.
    pub groups: Gauge,
    /// Blobs (sealed file chunks) stored (all groups).
    pub blobs_stored: Gauge,
    /// Blob bytes stored (all groups).
    pub blob_bytes_stored: Gauge,
    /// Frames answered with an error, or connections closed for a frame, by reason.
    pub rejected: Family<Reason, Counter>,
    /// Time of one storage flush (sled flush + fdatasync), seconds.
    pub flush_seconds: Histogram,
    /// Writes made durable by one flush.
    pub flush_batch: Histogram,
    /// Connections cut off because they did not read their pushes.
    pub slow_consumers: Counter,
    /// Writes refused because the store could not take them (a nearly full disk, a
    /// checkpoint backlog, a failed sync).
    pub writes_refused: Counter,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kith");
        let m = Self {
            connections: Gauge::default(),
            connections_total: Counter::default(),
            frames_in: Counter::default(),
            frames_out: Counter::default(),
            bytes_stored: Gauge::default(),
            messages_stored: Gauge::default(),
            groups: Gauge::default(),
            blobs_stored: Gauge::default(),
            blob_bytes_stored: Gauge::default(),
            rejected: Family::default(),
            flush_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            flush_batch: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            slow_consumers: Counter::default(),
            writes_refused: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections",
            "Open WebSocket connections",
            m.connections.clone(),
        );
        registry.register(
            "connections_accepted",
            "WebSocket connections accepted since start",
            m.connections_total.clone(),
        );
        registry.register(
            "frames_in",
            "Frames received from clients",
            m.frames_in.clone(),
        );
        registry.register("frames_out", "Frames sent to clients", m.frames_out.clone());
        registry.register(
            "stored_bytes",
            "Payload bytes stored",
            m.bytes_stored.clone(),
        );
        registry.register(
            "stored_messages",
            "Messages stored",
            m.messages_stored.clone(),
        );
        registry.register("groups", "Groups stored", m.groups.clone());
        registry.register(
            "stored_blobs",
            "Blobs (sealed file chunks) stored",
            m.blobs_stored.clone(),
        );
        registry.register(
            "stored_blob_bytes",
            "Blob bytes stored",
            m.blob_bytes_stored.clone(),
        );
        registry.register(
            "rejected_frames",
            "Frames rejected, by reason",
            m.rejected.clone(),
        );
        registry.register(
            "flush_seconds",
            "Duration of one durable storage flush",
            m.flush_seconds.clone(),
        );
        registry.register(
            "flush_batch_writes",
            "Writes made durable by one flush",
            m.flush_batch.clone(),
        );
        registry.register(
            "slow_consumers_disconnected",
            "Connections cut off for not reading their pushes",
            m.slow_consumers.clone(),
        );
        registry.register(
            "writes_refused",
            "Writes answered storage_unavailable (disk nearly full, checkpoint backlog, failed sync)",
            m.writes_refused.clone(),
        );
        Self { registry, ..m }
    }

    /// Counts one rejection.
    pub fn reject(&self, reason: &str) {
        self.rejected
            .get_or_create(&Reason {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric() {
        let m = Metrics::new();
        m.reject("bad_frame");
        m.flush_seconds.observe(0.001);
        let text = m.render();
        for name in [
            "kith_connections ",
            "kith_frames_in_total",
            "kith_frames_out_total",
            "kith_stored_bytes",
            "kith_groups",
            "kith_stored_blobs",
            "kith_stored_blob_bytes",
            "kith_rejected_frames_total{reason=\"bad_frame\"} 1",
            "kith_flush_seconds_bucket",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
