//! SVG charts: for `vmem bench`, a summary of every comparison's ratio with its spread and
//! one chart per comparison with the time of each side in every round; for `vmem tour`, RSS,
//! commit charge and mapped bytes after each step.

use std::path::{Path, PathBuf};

use anyhow::Context;
use plotters::prelude::*;

use crate::bench::{Outcome, Report};
use crate::format::bytes;
use crate::tour::Step;

/// Makes sure `dir` is a directory charts can go into, creating it if it does not exist, with
/// an error that says what is wrong ("not a directory") rather than what the OS call said.
pub fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => anyhow::bail!("--svg {}: not a directory (charts need a directory to go into)", dir.display()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).with_context(|| format!("--svg {}: creating the directory", dir.display()))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => {
            anyhow::bail!("--svg {}: part of the path is a file, not a directory", dir.display())
        }
        Err(err) => Err(err).with_context(|| format!("--svg {}", dir.display())),
    }
}

/// A file name from a comparison's name: lowercase letters and digits, dashes between.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Writes `dir/<slug>.svg` and returns its path.
pub fn write(dir: &Path, outcome: &Outcome) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{}.svg", slug(&outcome.name)));
    draw(&path, outcome).map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))?;
    Ok(path)
}

fn draw(path: &Path, outcome: &Outcome) -> Result<(), Box<dyn std::error::Error>> {
    let ms = |ns: &f64| ns / 1e6;
    let all = outcome.vmem_ns.iter().chain(&outcome.peer_ns).map(ms);
    let top = all.fold(0.0f64, f64::max) * 1.15;
    let rounds = outcome.vmem_ns.len().max(1);
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("{}: {} / vmem = {:.2}x ({})", outcome.name, outcome.peer, outcome.ratio, outcome.verdict());
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5f64..rounds as f64 + 0.5, 0f64..top.max(1e-6))?;
    chart
        .configure_mesh()
        .x_desc("round")
        .y_desc("time (ms)")
        .x_labels(rounds.min(12))
        // Rounds are whole numbers; ticks between them get no label.
        .x_label_formatter(&|x| if x.fract() == 0.0 { format!("{x:.0}") } else { String::new() })
        .draw()?;
    let series = [("vmem", &outcome.vmem_ns, BLUE), (outcome.peer.as_str(), &outcome.peer_ns, RED)];
    for (label, times, color) in series {
        let points: Vec<(f64, f64)> = times.iter().enumerate().map(|(i, t)| (i as f64 + 1.0, ms(t))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    chart.configure_series_labels().background_style(WHITE).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// Writes `dir/summary.svg`: every comparison's ratio (peer median / vmem median) as a dot,
/// its spread over the rounds as a bar, and 1.0 (the same speed) as a vertical line.
pub fn write_summary(dir: &Path, report: &Report) -> anyhow::Result<PathBuf> {
    let path = dir.join("summary.svg");
    draw_summary(&path, report).map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))?;
    Ok(path)
}

fn draw_summary(path: &Path, report: &Report) -> Result<(), Box<dyn std::error::Error>> {
    let rows = report.results.len().max(1);
    let right = report.results.iter().map(|r| r.ratio_max.max(r.ratio)).fold(1.0f64, f64::max) * 1.1;
    let left = report.results.iter().map(|r| r.ratio_min.min(r.ratio)).fold(1.0f64, f64::min).min(0.9) * 0.9;
    let root = SVGBackend::new(path, (820, 120 + 48 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("peer time / vmem time, {} rounds (above 1.0: vmem is faster)", report.rounds);
    let labels: Vec<String> = report.results.iter().map(|r| r.label.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(190)
        .build_cartesian_2d((left..right).log_scale(), -0.5f64..rows as f64 - 0.5)?;
    chart
        .configure_mesh()
        .x_desc("ratio (log scale): dot = peer median / vmem median, bar = lowest..highest round")
        .x_labels(10)
        .x_label_formatter(&|x| format!("{x:.2}"))
        .y_labels(rows)
        .y_label_formatter(&|y| {
            let i = y.round();
            // The first comparison at the top, as in the table.
            if (y - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < rows {
                labels.get(rows - 1 - i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .disable_y_mesh()
        .draw()?;
    let one = RGBColor(90, 90, 90);
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, -0.5), (1.0, rows as f64 - 0.5)],
        one.stroke_width(2),
    )))?;
    chart.draw_series(std::iter::once(Text::new(" 1.0: same speed", (1.0, -0.2), ("sans-serif", 13).into_font())))?;
    for (i, r) in report.results.iter().enumerate() {
        let y = (rows - 1 - i) as f64;
        let color = match r.verdict() {
            "vmem faster" => RGBColor(0, 130, 60),
            "peer faster" => RED,
            _ => RGBColor(120, 120, 120),
        };
        let style = color.stroke_width(3);
        chart.draw_series([
            PathElement::new(vec![(r.ratio_min, y), (r.ratio_max, y)], style),
            PathElement::new(vec![(r.ratio_min, y - 0.12), (r.ratio_min, y + 0.12)], style),
            PathElement::new(vec![(r.ratio_max, y - 0.12), (r.ratio_max, y + 0.12)], style),
        ])?;
        chart.draw_series(std::iter::once(Circle::new((r.ratio, y), 6, color.filled())))?;
        let note = format!("{:.2}x {}", r.ratio, r.verdict());
        chart.draw_series(std::iter::once(Text::new(note, (r.ratio, y + 0.38), ("sans-serif", 13).into_font())))?;
    }
    root.present()?;
    Ok(())
}

/// Writes `dir/tour.svg`: three panels, one bar per step in each: this process's RSS, and the
/// change since the start in the system's commit charge and in this process's mapped bytes.
pub fn write_tour(dir: &Path, steps: &[Step]) -> anyhow::Result<PathBuf> {
    let path = dir.join("tour.svg");
    draw_tour(&path, steps).map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))?;
    Ok(path)
}

fn draw_tour(path: &Path, steps: &[Step]) -> Result<(), Box<dyn std::error::Error>> {
    let rows = steps.len().max(1);
    let root = SVGBackend::new(path, (1200, 110 + 34 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled("vmem tour: what the OS reports after each step", ("sans-serif", 18))?;
    // The first panel is wider: it carries the step names as its row labels.
    const NAMES: u32 = 250;
    let panel_width = (root.dim_in_pixel().0 - NAMES) / 3;
    let (first, rest) = root.split_horizontally(NAMES + panel_width);
    let (second, third) = rest.split_horizontally(panel_width);
    let panels = [first, second, third];
    let names: Vec<String> = steps.iter().map(|s| s.step.clone()).collect();
    let change = |value: Option<u64>, start: Option<u64>| Some(value? as f64 - start? as f64);
    let first = steps.first();
    let series: [(&str, Vec<Option<f64>>, RGBColor); 3] = [
        ("RSS (this process)", steps.iter().map(|s| Some(s.rss_bytes as f64)).collect(), RGBColor(30, 90, 200)),
        (
            "commit charge (system), change",
            steps.iter().map(|s| change(s.commit_charge_bytes, first.and_then(|f| f.commit_charge_bytes))).collect(),
            RGBColor(200, 110, 0),
        ),
        (
            "mapped (this process), change",
            steps.iter().map(|s| change(s.mapped_bytes, first.and_then(|f| f.mapped_bytes))).collect(),
            RGBColor(0, 140, 90),
        ),
    ];
    for (k, (panel, (title, values, color))) in panels.iter().zip(series).enumerate() {
        let known: Vec<f64> = values.iter().flatten().copied().collect();
        let title = if known.is_empty() { format!("{title}: not available here") } else { title.to_string() };
        let high = known.iter().copied().fold(0.0f64, f64::max);
        let low = known.iter().copied().fold(0.0f64, f64::min);
        let span = (high - low).max(1.0);
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 14))
            .margin_top(4)
            .margin_right(14)
            .x_label_area_size(26)
            .y_label_area_size(if k == 0 { NAMES } else { 6 })
            .build_cartesian_2d(low - span * 0.02..high + span * 0.3, -0.5f64..rows as f64 - 0.5)?;
        chart
            .configure_mesh()
            .x_labels(4)
            .x_label_formatter(&|v| signed_bytes(*v))
            .y_labels(if k == 0 { rows } else { 0 })
            .y_label_formatter(&|y| {
                // Row 0 (the first step) at the top, as in the text output.
                let i = y.round();
                if (y - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < rows {
                    names.get(rows - 1 - i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .disable_y_mesh()
            .draw()?;
        let bars = values.iter().enumerate().filter_map(|(i, v)| {
            let y = (rows - 1 - i) as f64;
            v.map(|v| Rectangle::new([(0.0, y - 0.32), (v, y + 0.32)], color.filled()))
        });
        chart.draw_series(bars)?;
        let notes = values.iter().enumerate().filter_map(|(i, v)| {
            let y = (rows - 1 - i) as f64;
            v.map(|v| Text::new(signed_bytes(v), (v.max(0.0), y + 0.1), ("sans-serif", 11).into_font()))
        });
        chart.draw_series(notes)?;
    }
    root.present()?;
    Ok(())
}

/// Bytes for an axis or a bar: "256 MiB", "-1.5 GiB".
fn signed_bytes(value: f64) -> String {
    if value < 0.0 {
        format!("-{}", bytes((-value) as u64))
    } else {
        bytes(value as u64)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs() {
        assert_eq!(super::slug("arena: 200k allocations of 16 bytes"), "arena-200k-allocations-of-16-bytes");
    }
}
