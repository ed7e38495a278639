//! The page's SVG: the failures chart, the block timeline and the bars in table cells.
//! Geometry (scales, slots, ticks, spans) is computed here from numbers and [`Stamp`]s;
//! the only text drawn is labels made from them and networks escaped by [`Esc`].

use std::fmt::{self, Write as _};

use super::escape::Esc;
use crate::report::Stamp;
use crate::report::summary::{BlockInPeriod, ChartUnit, Summary};

/// The smallest drawn size of a non-zero bar or span, in the chart's units: a single
/// failure next to a million still shows.
const MIN_VISIBLE: f64 = 1.0;

/// The block timeline draws at most this many spans; the table below lists them all.
pub(super) const TIMELINE_MAX: usize = 100;

/// The failures chart, in SVG user units (scaled to the page width).
const CHART_WIDTH: f64 = 1000.0;
const CHART_HEIGHT: f64 = 220.0;
const CHART_LEFT: f64 = 56.0;
const CHART_RIGHT: f64 = 12.0;
const CHART_TOP: f64 = 14.0;
const CHART_BOTTOM: f64 = 28.0;

/// The block timeline, in SVG user units.
const TIMELINE_WIDTH: f64 = 1000.0;
/// The network labels' column: wide enough for the longest label shown, within bounds.
const TIMELINE_LEFT_MIN: f64 = 120.0;
const TIMELINE_LEFT_MAX: f64 = 400.0;
/// Rough width of one character of the timeline's monospace labels, in chart units.
const MONO_CHAR_WIDTH: f64 = 8.0;
const TIMELINE_RIGHT: f64 = 16.0;
const TIMELINE_AXIS: f64 = 26.0;
const TIMELINE_ROW: f64 = 24.0;
const TIMELINE_BAR: f64 = 14.0;

/// Rough width of one character of the charts' 12px labels, in chart units.
const CHAR_WIDTH: f64 = 7.0;

/// One bar of the failures chart: an hour, or a day, week or month for long periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bucket {
    /// The start of the bar.
    pub start: Stamp,
    /// What one bar spans.
    pub unit: ChartUnit,
    pub failures: i64,
}

impl Bucket {
    /// The bar for scripts: its start (`2026-11-27T15:00:00Z`), or the day (`2026-11-27`,
    /// also the Monday of a week), or the month (`2026-11`).
    pub fn key(&self) -> String {
        match self.unit {
            ChartUnit::Hour => self.start.to_string(),
            ChartUnit::Day | ChartUnit::Week => self.start.date(),
            ChartUnit::Month => self.start.month(),
        }
    }

    /// The bar for people (`2026-11-27 15:00`, `2026-11-27`, `2026-11`).
    pub fn label(&self) -> String {
        match self.unit {
            ChartUnit::Hour => self.start.minute(),
            ChartUnit::Day | ChartUnit::Week => self.start.date(),
            ChartUnit::Month => self.start.month(),
        }
    }

    /// The label under the axis between the first and the last: [`Bucket::label`]
    /// without the year.
    fn tick_label(&self) -> String {
        self.start.formatted(match self.unit {
            ChartUnit::Hour => "%m-%d %H:%M",
            ChartUnit::Day | ChartUnit::Week => "%m-%d",
            ChartUnit::Month => "%m",
        })
    }
}

/// The chart's bars: per hour, or per UTC day, week or month for long periods (see
/// [`Summary::chart`]).
pub(super) fn buckets(s: &Summary) -> Vec<Bucket> {
    s.chart
        .bars
        .iter()
        .map(|bar| Bucket {
            start: bar.start,
            unit: s.chart.unit,
            failures: bar.failures,
        })
        .collect()
}

/// The drawn length of `value` on a scale where `max` fills `full`: 0 for nothing (and
/// for an empty scale), at least [`MIN_VISIBLE`] (or `full`, if smaller) for anything,
/// never more than `full`, never NaN.
fn scaled(value: i64, max: i64, full: f64) -> f64 {
    if value <= 0 || max <= 0 || full.is_nan() || full <= 0.0 {
        return 0.0;
    }
    let ratio = (value as f64 / max as f64).min(1.0);
    (ratio * full).max(MIN_VISIBLE.min(full))
}

/// Where bar `index` of `count` goes in a plot `width` wide starting at `left`: its x and
/// width. Slots are equal; bars leave a gap of a fifth of a slot (at most 6 units), none
/// when slots are too narrow for one.
fn bar_slot(index: usize, count: usize, left: f64, width: f64) -> (f64, f64) {
    if count == 0 {
        return (left, 0.0);
    }
    let slot = width / count as f64;
    let gap = if slot >= 4.0 {
        (slot * 0.2).min(6.0)
    } else {
        0.0
    };
    (left + slot * index as f64 + gap / 2.0, slot - gap)
}

/// The failures chart of `bars` (at least one), the largest `max` failures.
pub(super) fn write_failures_chart(out: &mut String, bars: &[Bucket], max: i64) -> fmt::Result {
    let unit = bars.first().map_or("hour", |b| b.unit.as_str());
    writeln!(
        out,
        "<svg id=\"failures-chart\" class=\"chart\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" width=\"{CHART_WIDTH}\" \
         height=\"{CHART_HEIGHT}\" role=\"img\" aria-label=\"Failures per {unit}\">"
    )?;
    write_y_axis(out, max)?;
    write_bars(out, bars, max)?;
    write_x_axis(out, bars)?;
    writeln!(out, "</svg>")
}

/// The plot's width and height, and the y of its base line.
fn plot() -> (f64, f64, f64) {
    let plot_w = CHART_WIDTH - CHART_LEFT - CHART_RIGHT;
    let plot_h = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM;
    (plot_w, plot_h, CHART_TOP + plot_h)
}

/// The y axis: 0 and the maximum, with a grid line at the maximum.
fn write_y_axis(out: &mut String, max: i64) -> fmt::Result {
    let (_, _, base) = plot();
    writeln!(
        out,
        "<line class=\"grid\" x1=\"{CHART_LEFT}\" y1=\"{CHART_TOP}\" x2=\"{x2}\" y2=\"{CHART_TOP}\"/>\
         <text x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\" id=\"chart-y-max\">{max}</text>\
         <text x=\"{lx:.1}\" y=\"{by:.1}\" text-anchor=\"end\">0</text>",
        x2 = CHART_WIDTH - CHART_RIGHT,
        lx = CHART_LEFT - 8.0,
        ty = CHART_TOP + 4.0,
        by = base + 4.0,
    )
}

/// One rect per bar, each with its bucket and count as data and a title.
fn write_bars(out: &mut String, bars: &[Bucket], max: i64) -> fmt::Result {
    let (plot_w, plot_h, base) = plot();
    for (index, bar) in bars.iter().enumerate() {
        let (x, w) = bar_slot(index, bars.len(), CHART_LEFT, plot_w);
        let h = scaled(bar.failures, max, plot_h);
        writeln!(
            out,
            "<rect class=\"bar\" data-bucket=\"{key}\" data-failures=\"{n}\" x=\"{x:.2}\" \
             y=\"{y:.2}\" width=\"{w:.2}\" height=\"{h:.2}\"><title>{label} UTC: {n} failures</title></rect>",
            key = Esc(&bar.key()),
            label = Esc(&bar.label()),
            n = bar.failures,
            y = base - h,
        )?;
    }
    Ok(())
}

/// The x axis: its line, the first and last labels, and ticks between them.
fn write_x_axis(out: &mut String, bars: &[Bucket]) -> fmt::Result {
    let (plot_w, _, base) = plot();
    writeln!(
        out,
        "<line class=\"axis\" x1=\"{CHART_LEFT}\" y1=\"{base}\" x2=\"{x2}\" y2=\"{base}\"/>",
        x2 = CHART_WIDTH - CHART_RIGHT
    )?;
    let label_y = base + 18.0;
    if let Some(first) = bars.first() {
        writeln!(
            out,
            "<text x=\"{CHART_LEFT}\" y=\"{label_y}\" id=\"chart-first\">{}</text>",
            Esc(&first.label())
        )?;
    }
    if let (true, Some(last)) = (bars.len() > 1, bars.last()) {
        writeln!(
            out,
            "<text x=\"{x}\" y=\"{label_y}\" text-anchor=\"end\" id=\"chart-last\">{}</text>",
            Esc(&last.label()),
            x = CHART_WIDTH - CHART_RIGHT,
        )?;
    }
    for index in tick_indices(bars, plot_w) {
        let (x, w) = bar_slot(index, bars.len(), CHART_LEFT, plot_w);
        let Some(bar) = bars.get(index) else { continue };
        let x = x + w / 2.0;
        writeln!(
            out,
            "<line class=\"axis\" x1=\"{x:.2}\" y1=\"{base}\" x2=\"{x:.2}\" y2=\"{y2}\"/>\
             <text x=\"{x:.2}\" y=\"{label_y}\" text-anchor=\"middle\">{label}</text>",
            y2 = base + 4.0,
            label = Esc(&bar.tick_label()),
        )?;
    }
    Ok(())
}

/// The bars between the first and the last that get a label under the axis (`plot` is
/// the plot's width): every 6th (or 12th, for two days) clock hour, or about every eighth
/// day; none that would run into the first and last labels, which are always there.
fn tick_indices(bars: &[Bucket], plot: f64) -> Vec<usize> {
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Vec::new();
    };
    let daily = first.unit != ChartUnit::Hour;
    let count = bars.len();
    let step = if daily {
        count.div_ceil(8)
    } else if count <= 30 {
        6
    } else {
        12
    };
    let wanted = |index: usize, bar: &Bucket| {
        if daily {
            index.is_multiple_of(step)
        } else {
            usize::try_from(bar.start.hour_of_day()).is_ok_and(|hour| hour.is_multiple_of(step))
        }
    };
    // The first label starts at the plot's left edge, the last ends at its right one.
    let left_end = first.label().chars().count() as f64 * CHAR_WIDTH;
    let right_start = plot - last.label().chars().count() as f64 * CHAR_WIDTH;
    bars.iter()
        .enumerate()
        .filter(|(index, bar)| *index > 0 && *index + 1 < count && wanted(*index, bar))
        .filter(|(index, bar)| {
            let (x, w) = bar_slot(*index, count, 0.0, plot);
            let half = bar.tick_label().chars().count() as f64 * CHAR_WIDTH / 2.0 + CHAR_WIDTH;
            x + w / 2.0 - half >= left_end && x + w / 2.0 + half <= right_start
        })
        .map(|(index, _)| index)
        .collect()
}

/// A table cell holding one horizontal bar, `value` of `max` of the cell's width.
pub(super) fn write_hbar(out: &mut String, class: &str, value: i64, max: i64) -> fmt::Result {
    write!(
        out,
        "<td class=\"barcell\"><svg class=\"hbar {class}\" viewBox=\"0 0 100 10\" \
         preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect x=\"0\" y=\"0\" width=\"{w:.2}\" \
         height=\"10\"/></svg></td>",
        w = scaled(value, max, 100.0),
    )
}

/// The x of moment `t` on an axis from `since` (at `left`) to `until` (at `left +
/// width`), clamped to the axis.
fn time_x(t: i64, since: i64, until: i64, left: f64, width: f64) -> f64 {
    if until <= since {
        return left;
    }
    let t = t.clamp(since, until);
    left + (t - since) as f64 / (until - since) as f64 * width
}

/// A block's span on the timeline, clipped to the period: x and width, at least
/// [`MIN_VISIBLE`] wide; None when it lies wholly outside `since..=until`.
fn span_x(
    created: i64,
    end: Option<i64>,
    since: i64,
    until: i64,
    left: f64,
    width: f64,
) -> Option<(f64, f64)> {
    let start = created.max(since);
    let stop = end.unwrap_or(until).min(until);
    if start > until || stop < since || stop < start {
        return None;
    }
    let x0 = time_x(start, since, until, left, width);
    let x1 = time_x(stop, since, until, left, width);
    let w = (x1 - x0).max(MIN_VISIBLE);
    // Keep a minimum-width span at the right edge inside the axis.
    let x0 = x0.min(left + width - w).max(left);
    Some((x0, w))
}

/// The timeline's frame: the period `(since, until]`, the x of its start and the plot's
/// width and height.
struct Frame {
    since: i64,
    until: i64,
    left: f64,
    plot_w: f64,
    height: f64,
}

/// The block timeline of `shown` (the first [`TIMELINE_MAX`] blocks) over the period
/// `since..until`: zebra rows, a grid at each quarter, one span per block.
pub(super) fn write_timeline(
    out: &mut String,
    shown: &[BlockInPeriod],
    since: Stamp,
    until: Stamp,
) -> fmt::Result {
    let longest = shown
        .iter()
        .map(|b| b.block.network.to_string().chars().count())
        .max()
        .unwrap_or(0);
    let left =
        (longest as f64 * MONO_CHAR_WIDTH + 20.0).clamp(TIMELINE_LEFT_MIN, TIMELINE_LEFT_MAX);
    let frame = Frame {
        since: since.unix(),
        until: until.unix(),
        left,
        plot_w: TIMELINE_WIDTH - left - TIMELINE_RIGHT,
        height: TIMELINE_AXIS + TIMELINE_ROW * shown.len() as f64 + 6.0,
    };
    let height = frame.height;
    writeln!(
        out,
        "<svg id=\"block-timeline\" class=\"chart\" viewBox=\"0 0 {TIMELINE_WIDTH} {height}\" width=\"{TIMELINE_WIDTH}\" \
         height=\"{height}\" role=\"img\" aria-label=\"Block timeline\">"
    )?;
    write_timeline_grid(out, shown.len(), &frame)?;
    for (index, b) in shown.iter().enumerate() {
        write_timeline_row(out, index, b, &frame)?;
    }
    writeln!(out, "</svg>")
}

/// Zebra rows, then grid lines at each quarter of the period, labelled at the top.
fn write_timeline_grid(out: &mut String, rows: usize, frame: &Frame) -> fmt::Result {
    for index in (0..rows).filter(|index| index.is_multiple_of(2)) {
        writeln!(
            out,
            "<rect class=\"row\" x=\"0\" y=\"{y:.1}\" width=\"{TIMELINE_WIDTH}\" height=\"{TIMELINE_ROW}\"/>",
            y = TIMELINE_AXIS + TIMELINE_ROW * index as f64,
        )?;
    }
    let (since, until) = (frame.since, frame.until);
    for quarter in 0..=4_i64 {
        let t = since + (until - since) * quarter / 4;
        let x = time_x(t, since, until, frame.left, frame.plot_w);
        let anchor = match quarter {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{y1}\" x2=\"{x:.1}\" y2=\"{height}\"/>\
             <text x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"{anchor}\">{label}</text>",
            y1 = TIMELINE_AXIS - 6.0,
            ty = TIMELINE_AXIS - 10.0,
            height = frame.height,
            label = Esc(&Stamp(t).formatted("%m-%d %H:%M")),
        )?;
    }
    Ok(())
}

/// Row `index` of the timeline: the network's label, and the block's span when it
/// falls in the period.
fn write_timeline_row(
    out: &mut String,
    index: usize,
    b: &BlockInPeriod,
    frame: &Frame,
) -> fmt::Result {
    let v = &b.block;
    let t = v.target.as_str();
    let net = v.network.to_string();
    let row_y = TIMELINE_AXIS + TIMELINE_ROW * index as f64;
    writeln!(
        out,
        "<text x=\"{x}\" y=\"{y:.1}\" text-anchor=\"end\" class=\"mono\">{net}</text>",
        x = frame.left - 10.0,
        y = row_y + TIMELINE_ROW / 2.0 + 4.0,
        net = Esc(&net),
    )?;
    let span = span_x(
        v.created_at.unix(),
        b.ends_at.map(Stamp::unix),
        frame.since,
        frame.until,
        frame.left,
        frame.plot_w,
    );
    let Some((x, w)) = span else {
        return Ok(());
    };
    let end = v
        .ended_at
        .or(v.expires_at)
        .map_or_else(|| "permanent".to_string(), |at| at.to_string());
    writeln!(
        out,
        "<rect class=\"span {t}\" data-block-id=\"{id}\" x=\"{x:.2}\" y=\"{y:.1}\" \
         width=\"{w:.2}\" height=\"{TIMELINE_BAR}\" rx=\"2\"><title>{net} ({t}): {created} .. {end}, \
         {rej} rejected</title></rect>",
        id = v.id,
        y = row_y + (TIMELINE_ROW - TIMELINE_BAR) / 2.0,
        net = Esc(&net),
        created = Esc(&v.created_at.to_string()),
        end = Esc(&end),
        rej = b.rejected,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_handles_zero_one_and_huge() {
        // Nothing to draw: no bar, and no NaN from 0/0.
        assert_eq!(scaled(0, 0, 100.0), 0.0);
        assert_eq!(scaled(5, 0, 100.0), 0.0);
        assert_eq!(scaled(0, 5, 100.0), 0.0);
        assert_eq!(scaled(-3, 5, 100.0), 0.0);
        // The maximum fills the scale; half is half.
        assert_eq!(scaled(7, 7, 178.0), 178.0);
        assert_eq!(scaled(50, 100, 100.0), 50.0);
        // One failure next to a huge value still shows, and a huge value stays finite.
        assert_eq!(scaled(1, i64::MAX, 178.0), MIN_VISIBLE);
        assert_eq!(scaled(i64::MAX, i64::MAX, 178.0), 178.0);
        assert!(scaled(i64::MAX - 1, i64::MAX, 178.0).is_finite());
        // Never past the scale, even for a value over the stated maximum.
        assert_eq!(scaled(10, 5, 100.0), 100.0);
        // A scale smaller than the minimum visible size is not overrun.
        assert_eq!(scaled(1, 10, 0.5), 0.5);
        assert_eq!(scaled(1, 10, 0.0), 0.0);
    }

    #[test]
    fn bar_slots_fill_the_plot() {
        // One hour: one bar across the plot, less its gap.
        let (x, w) = bar_slot(0, 1, 10.0, 100.0);
        assert!(
            (x - 13.0).abs() < 1e-9 && (w - 94.0).abs() < 1e-9,
            "{x} {w}"
        );
        // Equal slots, the last ending at the plot's right edge (less half a gap).
        let (x, w) = bar_slot(24, 25, 0.0, 1000.0);
        assert!((x + w + 3.0 - 1000.0).abs() < 1e-9, "{x} {w}");
        // Narrow slots: no gap.
        let (x, w) = bar_slot(365, 366, 0.0, 732.0);
        assert!(
            (x - 730.0).abs() < 1e-9 && (w - 2.0).abs() < 1e-9,
            "{x} {w}"
        );
        assert_eq!(bar_slot(0, 0, 5.0, 100.0), (5.0, 0.0));
    }

    #[test]
    fn ticks_fall_on_round_hours_away_from_the_ends() {
        let hours = |count: i64| -> Vec<Bucket> {
            (0..count)
                .map(|h| Bucket {
                    start: Stamp(1_795_780_800 + h * 3600),
                    unit: ChartUnit::Hour,
                    failures: 0,
                })
                .collect()
        };
        let plot = CHART_WIDTH - CHART_LEFT - CHART_RIGHT;
        // 24h from 12:00: 18:00, 00:00, 06:00 (12:00 is first and last).
        assert_eq!(tick_indices(&hours(25), plot), [6, 12, 18]);
        // Too short for anything between the first and last label.
        assert!(tick_indices(&hours(2), plot).is_empty());
        assert!(tick_indices(&hours(1), plot).is_empty());
        assert!(tick_indices(&[], plot).is_empty());
        // 48h: every 12 hours.
        assert_eq!(tick_indices(&hours(49), plot), [12, 24, 36]);
        // 31 days: every 4th, but not the one that would touch the last label.
        // 2026-12-01T00:00:00Z is 1_796_083_200.
        let days: Vec<Bucket> = (0..31)
            .map(|d| Bucket {
                start: Stamp(1_796_083_200 + d * 86_400),
                unit: ChartUnit::Day,
                failures: 0,
            })
            .collect();
        assert_eq!(days[30].label(), "2026-12-31");
        assert_eq!(tick_indices(&days, plot), [4, 8, 12, 16, 20, 24]);
        assert_eq!(days[4].tick_label(), "12-05");
        assert_eq!(hours(2)[1].tick_label(), "11-27 13:00");
        assert_eq!(hours(2)[1].key(), "2026-11-27T13:00:00Z");
    }

    #[test]
    fn spans_are_clipped_to_the_period() {
        let (since, until) = (1000, 2000);
        // Wholly inside.
        assert_eq!(
            span_x(1250, Some(1500), since, until, 0.0, 100.0),
            Some((25.0, 25.0))
        );
        // From before the period, permanent: the whole axis.
        assert_eq!(
            span_x(0, None, since, until, 0.0, 100.0),
            Some((0.0, 100.0))
        );
        // Ends after the period: cut at its end.
        assert_eq!(
            span_x(1900, Some(9000), since, until, 10.0, 100.0),
            Some((100.0, 10.0))
        );
        // Created at the very end: a minimum-width span kept inside the axis.
        assert_eq!(
            span_x(2000, None, since, until, 0.0, 100.0),
            Some((99.0, 1.0))
        );
        // Outside the period.
        assert_eq!(span_x(2500, None, since, until, 0.0, 100.0), None);
        assert_eq!(span_x(0, Some(500), since, until, 0.0, 100.0), None);
        // An empty period does not divide by zero.
        assert_eq!(time_x(5, 7, 7, 3.0, 100.0), 3.0);
    }
}
