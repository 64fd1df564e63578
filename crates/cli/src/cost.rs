//! `stowage cost` as text: a row per group with bars, the largest and the stalest
//! artifacts, and the notes. The report itself comes from the app layer.

use std::fmt::Write;

use stowage_core::cost::{CostReport, GroupCost, STALE_AFTER_DAYS};

/// Bytes in binary units (`1.5 GiB`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Dollars for people: cents, or `<$0.01` for a positive amount below a cent.
pub fn human_usd(usd: f64) -> String {
    if usd > 0.0 && usd < 0.005 {
        "<$0.01".to_string()
    } else {
        format!("${usd:.2}")
    }
}

/// A bar of `width` characters at most, for `value` out of `max`.
fn bar(value: f64, max: f64, width: usize) -> String {
    if max <= 0.0 || value <= 0.0 {
        return String::new();
    }
    let n = ((value / max) * width as f64).round() as usize;
    "#".repeat(n.clamp(1, width))
}

/// Clip a name to `width` characters (keeping its end, where names differ).
fn clip(name: &str, width: usize) -> String {
    let n = name.chars().count();
    if n <= width {
        name.to_string()
    } else {
        let tail: String = name.chars().skip(n - (width - 1)).collect();
        format!("…{tail}")
    }
}

/// The report as text: a row per group, bar charts, the largest and stale lists, the notes.
pub fn render_text(r: &CostReport) -> String {
    let mut s = String::new();
    let w = r
        .groups
        .iter()
        .map(|g| g.name.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 32);
    let _ = writeln!(
        s,
        "Cost estimates by {} (est., USD per month; every figure is an estimate)\n",
        r.group_by.as_str()
    );
    let _ = writeln!(
        s,
        "{:<w$} {:>8} {:>10} {:>10} {:>10} {:>12} {:>12} {:>12} {:>12} {:>10} {:>12} {:>12} {:>12}",
        r.group_by.as_str().to_uppercase(),
        "OBJECTS",
        "STORED",
        "ORIGINAL",
        "SAVED",
        "SAVED/MO",
        "STORAGE/MO",
        "EGRESS 30D",
        "REQS 30D",
        "GROWTH 30D",
        "STORED +3MO",
        "TOTAL/MO",
        "AS JSONB/MO",
    );
    let _ = writeln!(
        s,
        "{:<w$} {:>8} {:>10} {:>10} {:>10} {:>12} {:>12} {:>12} {:>12} {:>10} {:>12} {:>12} {:>12}",
        "", "", "", "", "", "est.", "est.", "est.", "est.", "", "est.", "est.", "est."
    );
    for g in r.groups.iter().chain(std::iter::once(&r.total)) {
        if std::ptr::eq(g, &r.total) {
            let _ = writeln!(s, "{}", "-".repeat(w + 13 * 12));
        }
        let _ = writeln!(
            s,
            "{:<w$} {:>8} {:>10} {:>10} {:>10} {:>12} {:>12} {:>12} {:>12} {:>10} {:>12} {:>12} {:>12}",
            clip(&g.name, w),
            g.objects,
            human_bytes(g.stored_bytes),
            human_bytes(g.original_bytes),
            human_bytes(g.savings_bytes),
            human_usd(g.savings_monthly_usd_est),
            human_usd(g.storage_monthly_usd_est),
            human_usd(g.egress_usd_est_30d),
            human_usd(g.requests_usd_est_30d),
            human_bytes(g.growth_bytes_30d),
            human_bytes(g.forecast_stored_bytes_3mo_est),
            human_usd(g.total_monthly_usd_est),
            human_usd(g.postgres_jsonb_monthly_usd_est),
        );
    }

    let chart = |s: &mut String,
                 title: &str,
                 value: &dyn Fn(&GroupCost) -> f64,
                 label: &dyn Fn(f64) -> String| {
        let _ = writeln!(s, "\n{title}");
        let max = r.groups.iter().map(value).fold(0.0, f64::max);
        for g in &r.groups {
            let v = value(g);
            let _ = writeln!(
                s,
                "  {:<w$} |{:<40} {}",
                clip(&g.name, w),
                bar(v, max, 40),
                label(v)
            );
        }
    };
    chart(
        &mut s,
        "Monthly cost, est. (storage + egress + requests)",
        &|g| g.total_monthly_usd_est,
        &human_usd,
    );
    chart(&mut s, "Stored bytes", &|g| g.stored_bytes as f64, &|v| {
        human_bytes(v as u64)
    });
    chart(
        &mut s,
        "Monthly cost as Postgres JSONB, est.",
        &|g| g.postgres_jsonb_monthly_usd_est,
        &human_usd,
    );

    let t = &r.total;
    let months = [
        ("60-90 days ago", t.growth_bytes_60_90d, ""),
        ("30-60 days ago", t.growth_bytes_30_60d, ""),
        ("last 30 days", t.growth_bytes_30d, ""),
        ("next month", t.forecast_growth_bytes_est[0], " est."),
        ("in 2 months", t.forecast_growth_bytes_est[1], " est."),
        ("in 3 months", t.forecast_growth_bytes_est[2], " est."),
    ];
    let max = months.iter().map(|m| m.1).max().unwrap_or(0) as f64;
    let _ = writeln!(s, "\nGrowth per month (bytes stored), then the forecast");
    for (name, v, est) in months {
        let _ = writeln!(
            s,
            "  {name:<14} |{:<40} {}{est}",
            bar(v as f64, max, 40),
            human_bytes(v)
        );
    }

    let _ = writeln!(s, "\nLargest artifacts");
    if t.largest.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    for a in &t.largest {
        let _ = writeln!(
            s,
            "  {:>10}  {:>8}/mo est.  {}/{} ({})",
            human_bytes(a.stored_bytes),
            human_usd(a.storage_monthly_usd_est),
            a.bucket,
            a.key,
            a.provider
        );
    }
    let _ = writeln!(
        s,
        "\nStale artifacts (not read for {STALE_AFTER_DAYS} days): {} objects, {}, {}/mo est.",
        t.stale_objects,
        human_bytes(t.stale_bytes),
        human_usd(t.stale_storage_monthly_usd_est)
    );
    for a in &t.stalest {
        let _ = writeln!(
            s,
            "  {:>5} days  {:>10}  {}/{} ({})",
            a.days_unread,
            human_bytes(a.stored_bytes),
            a.bucket,
            a.key,
            a.provider
        );
    }
    let _ = writeln!(s, "\nProviders (free tiers applied to these totals)");
    for p in &r.providers {
        let _ = writeln!(
            s,
            "  {:<w$} {:>10} stored, storage {}/mo est., egress {} in 30 days → {} est., requests {} est.; {}/mo in all, est.",
            clip(&p.provider, w),
            human_bytes(p.stored_bytes),
            human_usd(p.storage_monthly_usd_est),
            human_bytes(p.egress_bytes_30d),
            human_usd(p.egress_usd_est_30d),
            human_usd(p.requests_usd_est_30d),
            human_usd(p.total_monthly_usd_est),
        );
    }
    let _ = writeln!(s, "\nEstimates, not bills:");
    for n in &r.notes {
        let _ = writeln!(s, "  - {n}");
    }
    s
}
