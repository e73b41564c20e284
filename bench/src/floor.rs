//! The durability floor: what one durable write costs on this disk, measured in the same
//! run as the servers. A relay that acknowledges only what reached the disk can never
//! answer faster than the baseline plus one `pwrite` + `fdatasync` of a message-sized
//! record, so its latency is judged against that sum.

use anyhow::Result;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bytes of one record: a 1 KiB ciphertext with the relay's framing around it.
pub const RECORD: usize = 1200;

/// Percentiles of `pwrite` + `fdatasync`, nanoseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Floor {
    pub samples: usize,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
}

/// Times `samples` overwrites of [`RECORD`] bytes, each followed by `fdatasync`, into a
/// file preallocated (and synced) in `dir`, so that no sync commits a new file length —
/// as the relay's write-ahead log does. One write every `gap`, like a relay at light load.
pub fn measure(dir: &Path, samples: usize, gap: Duration) -> Result<Floor> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("floor.probe");
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let zeros = vec![0u8; RECORD * samples];
    file.write_all_at(&zeros, 0)?;
    file.sync_all()?;
    let record = vec![0x5au8; RECORD];
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let start = Instant::now();
        file.write_all_at(&record, (i * RECORD) as u64)?;
        file.sync_data()?;
        times.push(start.elapsed().as_nanos() as u64);
        std::thread::sleep(gap);
    }
    drop(file);
    std::fs::remove_file(&path)?;
    times.sort_unstable();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    Ok(Floor {
        samples,
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_ordered_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let f = measure(dir.path(), 50, Duration::ZERO).unwrap();
        assert_eq!(f.samples, 50);
        assert!(f.p50 > 0 && f.p50 <= f.p99 && f.p99 <= f.p999);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
