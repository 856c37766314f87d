//! The audit for people and machines: a table grouped by severity, CSV, and one self-contained
//! HTML file (no scripts, no external assets) with a chart of key ages against the 90-day line.

use std::fmt::Write;

use html_escape::encode_text as esc;

use super::Audit;
use super::checks::{MAX_KEY_AGE_DAYS, Severity};

/// The findings grouped by severity, then the summary.
pub fn to_text(audit: &Audit) -> String {
    let mut out = String::new();
    if let Some(generated) = audit.generated_at {
        let _ = writeln!(
            out,
            "Credential report generated {} ({} h old; AWS serves one up to 4 h old)",
            humantime::format_rfc3339_seconds(generated),
            audit.summary.report_age_hours.unwrap_or(0)
        );
    }
    for severity in [Severity::High, Severity::Medium, Severity::Low] {
        let findings: Vec<_> = audit
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .collect();
        if findings.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{} ({})",
            severity.as_str().to_uppercase(),
            findings.len()
        );
        for f in findings {
            let _ = writeln!(
                out,
                "  {:<24} {:<26} {:<18} {}",
                f.user,
                f.check,
                f.controls.label(),
                f.detail
            );
            let _ = writeln!(out, "  {:<24} fix: {}", "", f.remedy);
        }
    }
    let s = &audit.summary;
    let _ = write!(
        out,
        "\n{} users, {} active keys: {} under rotation, {} not",
        s.users, s.active_keys, s.managed_keys, s.unmanaged_keys
    );
    if s.unverified_keys > 0 {
        let _ = write!(
            out,
            ", {} unknown (stale report, unreadable secret, or keys made in the same second)",
            s.unverified_keys
        );
    }
    out.push('\n');
    if let Some(warning) = incomplete(audit) {
        let _ = writeln!(out, "{warning}");
    }
    out
}

/// Why the audit is incomplete, if it is: said in every format, next to the findings.
fn incomplete(audit: &Audit) -> Option<String> {
    let n = audit.summary.unreadable_secrets;
    (n > 0).then(|| {
        format!(
            "INCOMPLETE: {n} secret{} could not be read (see unreadable-secret): the keys they hold are not told managed or not",
            if n == 1 { "" } else { "s" }
        )
    })
}

/// One row per finding.
pub fn to_csv(audit: &Audit) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record([
        "user",
        "arn",
        "check",
        "severity",
        "cis",
        "security_hub",
        "key_slot",
        "key_id",
        "detail",
        "remedy",
    ]);
    for f in &audit.findings {
        let slot = f
            .key
            .as_ref()
            .and_then(|k| k.slot)
            .map(|slot| slot.to_string())
            .unwrap_or_default();
        let id = f
            .key
            .as_ref()
            .and_then(|k| k.id.clone())
            .unwrap_or_default();
        let _ = writer.write_record([
            f.user.as_str(),
            f.arn.as_str(),
            f.check,
            f.severity.as_str(),
            f.controls.cis.unwrap_or(""),
            f.controls.security_hub.unwrap_or(""),
            slot.as_str(),
            id.as_str(),
            f.detail.as_str(),
            f.remedy.as_str(),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A page a reviewer can open and attach to a ticket.
pub fn to_html(audit: &Audit) -> String {
    let mut out = html_head("IAM access key audit");
    out += &html_body(audit, 2);
    out += "</body></html>\n";
    out
}

/// The page's head and title, up to the opened body.
pub(super) fn html_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\nbody{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}.high{{color:#b00020;font-weight:bold}}.medium{{color:#b26a00}}.low{{color:#555}}\n</style></head><body>\n<h1>{title}</h1>\n"
    )
}

/// One account's audit as HTML, its headings at level `h`.
pub(super) fn html_body(audit: &Audit, h: u8) -> String {
    let s = &audit.summary;
    let mut out = String::new();
    if let Some(generated) = audit.generated_at {
        let _ = writeln!(
            out,
            "<p>Credential report generated {} ({} h old).</p>",
            humantime::format_rfc3339_seconds(generated),
            s.report_age_hours.unwrap_or(0)
        );
    }
    let _ = writeln!(
        out,
        "<h2>Summary</h2>\n<table id=\"summary\"><tr><th>users</th><td>{}</td></tr><tr><th>active keys</th><td>{}</td></tr><tr><th>under rotation</th><td>{}</td></tr><tr><th>not under rotation</th><td>{}</td></tr>",
        s.users, s.active_keys, s.managed_keys, s.unmanaged_keys
    );
    for (severity, n) in &s.by_severity {
        let _ = writeln!(out, "<tr><th>{severity} findings</th><td>{n}</td></tr>");
    }
    out += "</table>\n";
    if let Some(warning) = incomplete(audit) {
        let _ = writeln!(
            out,
            "<p class=\"high\" id=\"incomplete\">{}</p>",
            esc(&warning)
        );
    }
    out += &chart(audit);
    out += "<h2>Findings</h2>\n<table id=\"findings\"><tr><th>severity</th><th>user</th><th>check</th><th>controls</th><th>key</th><th>detail</th><th>fix</th></tr>\n";
    for f in &audit.findings {
        let key = f
            .key
            .as_ref()
            .map(|k| match (&k.id, k.slot) {
                (Some(id), _) => id.clone(),
                (None, Some(slot)) => format!("slot {slot}"),
                (None, None) => String::new(),
            })
            .unwrap_or_default();
        let controls = f.controls.label();
        let _ = writeln!(
            out,
            "<tr class=\"finding\"><td class=\"{sev}\">{sev}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&f.user),
            f.check,
            controls,
            esc(&key),
            esc(&f.detail),
            esc(&f.remedy),
            sev = f.severity.as_str()
        );
    }
    out += "</table>\n";
    out += &managed_keys(audit);
    if h != 2 {
        out = out
            .replace("<h2>", &format!("<h{h}>"))
            .replace("</h2>", &format!("</h{h}>"));
    }
    out
}

/// Each key under rotation: its secret, and where its rotations deliver it.
fn managed_keys(audit: &Audit) -> String {
    let mut out = String::from(
        "<h2>Keys under rotation</h2>\n<table id=\"managed\"><tr><th>user</th><th>key</th><th>secret</th><th>delivered to</th></tr>\n",
    );
    for user in &audit.users {
        for key in &user.keys {
            let Some(managed) = &key.managed else {
                continue;
            };
            let destinations = match managed.destinations.is_empty() {
                true => "readers of the secret only".to_string(),
                false => managed
                    .destinations
                    .iter()
                    .map(|d| format!("<code>{}</code>", esc(d)))
                    .collect::<Vec<_>>()
                    .join("<br>"),
            };
            let _ = writeln!(
                out,
                "<tr class=\"managed\"><td>{}</td><td>{}</td><td>{}</td><td>{destinations}</td></tr>",
                esc(&user.user),
                esc(key.id.as_deref().unwrap_or_default()),
                esc(&managed.secret),
            );
        }
    }
    out += "</table>\n";
    out
}

/// Active keys' ages as horizontal bars, with the 90-day line; older keys in red.
fn chart(audit: &Audit) -> String {
    let mut bars: Vec<(String, u64, bool)> = audit
        .users
        .iter()
        .flat_map(|u| {
            // A key whose age is not known (a stale report row) gets no bar, not one of 0 days.
            u.keys.iter().filter(|k| k.active).filter_map(move |k| {
                let label = format!("{} #{}", u.user, k.slot);
                Some((label, k.age_days?, k.managed.is_some()))
            })
        })
        .collect();
    bars.sort_by_key(|b| std::cmp::Reverse(b.1));
    let widest = bars
        .iter()
        .map(|b| b.1)
        .max()
        .unwrap_or(0)
        .max(MAX_KEY_AGE_DAYS * 2) as f64;
    let (label_w, plot_w, row_h) = (220.0, 520.0, 18.0);
    let height = row_h * bars.len() as f64 + 40.0;
    let x = |days: u64| label_w + plot_w * days as f64 / widest;
    let mut svg = format!(
        "<h2>Key ages</h2>\n<svg id=\"key-ages\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"Active access key ages in days\">\n",
        label_w + plot_w + 20.0
    );
    for (i, (label, days, managed)) in bars.iter().enumerate() {
        let y = 10.0 + row_h * i as f64;
        let color = if *days > MAX_KEY_AGE_DAYS {
            "#b00020"
        } else if *managed {
            "#2e7d32"
        } else {
            "#607d8b"
        };
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"{label_w}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"{color}\"><title>{} days</title></rect>",
            label_w - 6.0,
            y + 12.0,
            esc(label),
            x(*days) - label_w,
            row_h - 4.0,
            days
        );
    }
    let line = x(MAX_KEY_AGE_DAYS);
    let _ = writeln!(
        svg,
        "<line x1=\"{line:.1}\" y1=\"0\" x2=\"{line:.1}\" y2=\"{}\" stroke=\"#000\" stroke-dasharray=\"4 3\"/><text x=\"{line:.1}\" y=\"{}\" font-size=\"11\">90 days</text>\n</svg>",
        height - 20.0,
        height - 6.0
    );
    svg
}
