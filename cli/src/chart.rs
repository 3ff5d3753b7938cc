//! One SVG chart per comparison: the time of each side in every round, so the spread is as
//! visible as the median.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::bench::Outcome;

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
    let title = format!("{}: {} / vmem = {:.2}x", outcome.name, outcome.peer, outcome.ratio_median);
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

#[cfg(test)]
mod tests {
    #[test]
    fn slugs() {
        assert_eq!(super::slug("arena: 200k allocations of 16 bytes"), "arena-200k-allocations-of-16-bytes");
    }
}
