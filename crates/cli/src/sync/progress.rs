//! A sync's progress on stderr: redrawn in place on a terminal (indicatif), a plain line
//! every few seconds otherwise (cron, CI); nothing with `-q`.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use profile_sync::RowOutcome;

/// The widest a progress line is drawn.
pub(crate) const WIDTH: usize = 80;

/// What the line shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Counts {
    pub(crate) done: u64,
    pub(crate) total: Option<u64>,
    pub(crate) updated: u64,
    pub(crate) created: u64,
    pub(crate) unchanged: u64,
    pub(crate) known: u64,
    pub(crate) would: u64,
    pub(crate) failed: u64,
    pub(crate) malformed: u64,
    pub(crate) dry_run: bool,
    pub(crate) elapsed: Duration,
}

impl Counts {
    pub(crate) fn count(&mut self, outcome: &RowOutcome, from_state: bool) {
        self.done += 1;
        if from_state {
            self.known += 1;
        }
        match outcome {
            RowOutcome::Updated { .. } => self.updated += 1,
            RowOutcome::Created { .. } => self.created += 1,
            RowOutcome::Unchanged => self.unchanged += 1,
            RowOutcome::WouldUpdate { .. } | RowOutcome::WouldCreate { .. } => self.would += 1,
            RowOutcome::Malformed { .. } => self.malformed += 1,
            RowOutcome::Failed { .. } | RowOutcome::Unknown { .. } => self.failed += 1,
            _ => {}
        }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    if secs >= 3_600 {
        format!("{}h{:02}m", secs / 3_600, secs % 3_600 / 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// The progress line of `counts`, at most `width` characters: the parts that matter most
/// first, the others left out when they do not fit.
pub(crate) fn line(counts: &Counts, width: usize) -> String {
    let secs = counts.elapsed.as_secs_f64().max(0.001);
    let rate = counts.done as f64 / secs;
    let mut parts: Vec<String> = Vec::new();
    parts.push(match counts.total {
        Some(total) => format!("{}/{} rows", thousands(counts.done), thousands(total)),
        None => format!("{} rows", thousands(counts.done)),
    });
    let mut optional: Vec<String> = Vec::new();
    if counts.dry_run {
        optional.push(format!("{} would change", thousands(counts.would)));
    } else {
        optional.push(format!("{} updated", thousands(counts.updated)));
        if counts.created > 0 {
            optional.push(format!("{} created", thousands(counts.created)));
        }
    }
    optional.push(format!("{} failed", thousands(counts.failed)));
    if counts.malformed > 0 {
        optional.push(format!("{} malformed", thousands(counts.malformed)));
    }
    optional.push(format!("{} known", thousands(counts.known)));
    if let Some(total) = counts.total {
        if rate > 0.0 && counts.done < total {
            optional.push(format!(
                "ETA {}",
                duration((total - counts.done) as f64 / rate)
            ));
        }
    }
    optional.push(format!("{}/s", thousands(rate as u64)));
    optional.push(format!("{} unchanged", thousands(counts.unchanged)));
    for part in optional {
        let candidate = format!("{}, {part}", parts.join(", "));
        if candidate.chars().count() <= width {
            parts.push(part);
        }
    }
    let mut text = parts.join(", ");
    if text.chars().count() > width {
        text = text.chars().take(width).collect();
    }
    text
}

/// Where the progress goes.
pub(crate) struct Progress {
    counts: Counts,
    started: Instant,
    last: Instant,
    bar: Option<ProgressBar>,
    plain: bool,
}

impl Progress {
    /// A bar on a terminal, plain lines otherwise, nothing when `quiet`.
    pub(crate) fn new(terminal: bool, quiet: bool, total: Option<u64>, dry_run: bool) -> Self {
        let bar = (terminal && !quiet).then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{msg}") {
                bar.set_style(style);
            }
            bar
        });
        let now = Instant::now();
        Self {
            counts: Counts {
                total,
                dry_run,
                ..Counts::default()
            },
            started: now,
            last: now,
            bar,
            plain: !terminal && !quiet,
        }
    }

    /// The rows to do, once known.
    pub(crate) fn set_total(&mut self, total: u64) {
        self.counts.total = Some(total);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    pub(crate) fn tick(&mut self, outcome: &RowOutcome, from_state: bool) {
        self.counts.count(outcome, from_state);
        self.counts.elapsed = self.started.elapsed();
        if let Some(bar) = &self.bar {
            if self.last.elapsed() >= Duration::from_millis(100) {
                self.last = Instant::now();
                bar.set_message(line(&self.counts, WIDTH));
            }
        } else if self.plain && self.last.elapsed() >= Duration::from_secs(5) {
            self.last = Instant::now();
            eprintln!(
                "progress: {}",
                line(&self.counts, WIDTH - "progress: ".len())
            );
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_fits_in_80_columns_whatever_the_counts() {
        let huge = Counts {
            done: 123_456_789,
            total: Some(987_654_321),
            updated: 12_345_678,
            created: 1_234_567,
            unchanged: 99_999_999,
            known: 88_888_888,
            would: 0,
            failed: 7_654_321,
            malformed: 1_234_567,
            dry_run: false,
            elapsed: Duration::from_secs(3_700),
        };
        let text = line(&huge, WIDTH);
        assert!(text.chars().count() <= WIDTH, "{} > 80: {text}", text.len());
        assert!(
            text.starts_with("123,456,789/987,654,321 rows, 12,345,678 updated"),
            "{text}"
        );
        let small = Counts {
            done: 1_200,
            total: Some(20_000),
            updated: 12,
            unchanged: 1_180,
            known: 1_150,
            failed: 3,
            malformed: 5,
            elapsed: Duration::from_secs(2),
            ..Counts::default()
        };
        assert_eq!(
            line(&small, WIDTH),
            "1,200/20,000 rows, 12 updated, 3 failed, 5 malformed, 1,150 known, ETA 0:31"
        );
        // Malformed rows are their own count, never failed; "would" only in a dry run.
        let mut counts = Counts::default();
        counts.count(
            &RowOutcome::Malformed {
                reason: String::new(),
            },
            false,
        );
        assert_eq!((counts.malformed, counts.failed), (1, 0));
        assert!(!line(&counts, WIDTH).contains("would"));
        counts.dry_run = true;
        assert!(line(&counts, WIDTH).contains("0 would change"));
        assert!(!line(&counts, WIDTH).contains("updated"));
    }

    #[test]
    fn numbers_are_grouped_and_durations_short() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(duration(59.6), "1:00");
        assert_eq!(duration(3_725.0), "1h02m");
    }
}
