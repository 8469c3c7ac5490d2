//! The scaling curves as an SVG plot, log–log, drawn with `plotters`.

use std::path::Path;

use plotters::prelude::*;

use crate::report::{Machine, Series, group};

/// The colour of each curve, in order.
const COLOURS: [RGBColor; 5] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xd6, 0x27, 0x28),
];

/// Writes the plot of `series` to `path`: ns per switch (median) against
/// concurrent tasks, one curve per series. Failed points are left out, and
/// a line under the chart names them.
///
/// # Errors
///
/// When the file cannot be written (the error's text).
pub fn write_svg(path: &Path, series: &[Series], machine: &Machine) -> Result<(), String> {
    let points = |s: &Series| -> Vec<(f64, f64)> {
        s.points
            .iter()
            .filter_map(|(n, outcome)| Some((*n as f64, outcome.as_ref().ok()?.median)))
            .collect()
    };
    let all: Vec<(f64, f64)> = series.iter().flat_map(points).collect();
    let (x_max, y_min, y_max) = all.iter().fold((10.0f64, 1e9f64, 1.0f64), |acc, &(x, y)| {
        (acc.0.max(x), acc.1.min(y), acc.2.max(y))
    });
    // Whole decades around the data.
    let x_range = 1.0..10f64.powf(x_max.log10().ceil());
    let y_range = 10f64.powf(y_min.min(y_max).log10().floor())..10f64.powf(y_max.log10().ceil());

    let (width, height) = (960, 660);
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error + '_>> {
        root.fill(&WHITE)?;
        let caption = format!(
            "Switch cost against concurrent tasks ({}, {} cores, {}, {})",
            machine.cpu, machine.cores, machine.kernel, machine.date
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(20)
            .margin_bottom(40) // room for the note on failed points
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x_range.log_scale(), y_range.log_scale())?;
        chart
            .configure_mesh()
            .x_desc("concurrent tasks")
            .y_desc("ns per switch (median)")
            .x_label_formatter(&|x| group(*x))
            .y_label_formatter(&|y| group(*y))
            .draw()?;
        for (s, colour) in series.iter().zip(COLOURS.iter().cycle()) {
            let colour = *colour;
            let line = points(s);
            chart
                .draw_series(LineSeries::new(line.clone(), colour.stroke_width(2)))?
                .label(s.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(2))
                });
            chart.draw_series(line.into_iter().map(|p| Circle::new(p, 3, colour.filled())))?;
        }
        chart
            .configure_series_labels()
            // Between the threads (thousands of ns) and the greenlets and
            // tokio tasks (tens to hundreds): the band the curves leave empty.
            .position(SeriesLabelPosition::MiddleLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        if let Some(note) = failed_note(series) {
            root.draw(&Text::new(
                note,
                (20, height as i32 - 24),
                ("sans-serif", 12),
            ))?;
        }
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// "Not plotted (failed): …" naming each series' failed task counts, if any.
fn failed_note(series: &[Series]) -> Option<String> {
    let parts: Vec<String> = series
        .iter()
        .filter_map(|s| {
            let failed: Vec<String> = s
                .points
                .iter()
                .filter(|(_, outcome)| outcome.is_err())
                .map(|(n, _)| group(*n as f64))
                .collect();
            (!failed.is_empty()).then(|| format!("{} at {}", s.label, failed.join(", ")))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("Not plotted (failed): {}", parts.join("; ")))
}
