//! The progress bar of a long ingest, on stderr.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::source::Source;

/// Progress bars only for reads at least this large.
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// A bar over the bytes `sources` say they will read, when that is worth one.
pub fn for_sources<'a>(sources: impl Iterator<Item = &'a Box<dyn Source>>) -> Option<ProgressBar> {
    let total: u64 = sources.map(|s| s.size_hint()).sum();
    (total >= PROGRESS_MIN_BYTES).then(|| progress_bar(total))
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} ingest [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
