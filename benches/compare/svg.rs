//! A hand-written SVG bar chart: groups of horizontal bars, one group per
//! workload, one bar per implementation, each group scaled to its own
//! largest value (the groups may have different units).

use std::fmt::Write;

/// One workload's bars: (implementation, value).
pub struct Group {
    pub label: String,
    /// Printed after each value.
    pub unit: &'static str,
    pub bars: Vec<(&'static str, f64)>,
}

const WIDTH: f64 = 760.0;
const LABEL: f64 = 120.0;
const BAR: f64 = 18.0;
const GAP: f64 = 14.0;
const COLORS: [&str; 5] = ["#2b6cb0", "#dd6b20", "#38a169", "#d69e2e", "#805ad5"];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Renders the chart; `note` is a line under the title.
pub fn bar_chart(title: &str, note: &str, groups: &[Group]) -> String {
    let rows: usize = groups.iter().map(|g| g.bars.len()).sum();
    let height = 70.0 + rows as f64 * BAR + groups.len() as f64 * (GAP + 16.0) + 10.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="10" y="22" font-size="16" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(out, r##"<text x="10" y="42" fill="#555">{}</text>"##, escape(note));
    let mut y = 60.0;
    for group in groups {
        let _ = writeln!(
            out,
            r#"<text x="10" y="{}" font-weight="bold">{}</text>"#,
            y + 12.0,
            escape(&group.label)
        );
        y += 16.0;
        let max = group.bars.iter().map(|&(_, v)| v).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
        for (i, &(name, value)) in group.bars.iter().enumerate() {
            let length = (WIDTH - LABEL - 180.0) * value / max;
            let color = COLORS[i % COLORS.len()];
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                LABEL - 8.0,
                y + 13.0,
                escape(name)
            );
            let _ = writeln!(
                out,
                r#"<rect x="{LABEL}" y="{}" width="{length:.1}" height="{}" fill="{color}"/>"#,
                y + 2.0,
                BAR - 4.0
            );
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{}">{} {}</text>"#,
                LABEL + length + 6.0,
                y + 13.0,
                format_value(value),
                escape(group.unit)
            );
            y += BAR;
        }
        y += GAP;
    }
    out.push_str("</svg>\n");
    out
}

/// Three significant digits, with a k/M suffix.
pub fn format_value(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e4 {
        format!("{:.1}k", value / 1e3)
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}
