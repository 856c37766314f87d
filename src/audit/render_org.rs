//! The organization's audit for people and machines, grouped by account: text, CSV (the
//! account's columns first) and one HTML page. Unreachable accounts come first, never hidden.

use std::fmt::Write;

use html_escape::encode_text as esc;

use super::organization::{OrgAudit, Skipped};
use super::render::{html_body, html_head, to_csv, to_text};

fn place(s: &Skipped) -> String {
    format!("{} ({})", s.account.account_name, s.account.account)
}

/// Each account's report under its heading, after the accounts the audit could not reach.
pub fn org_to_text(report: &OrgAudit) -> String {
    let s = &report.summary;
    let mut out = format!(
        "Organization audit: {} accounts audited, {} unreachable, {} left out, {} not reached\n",
        s.accounts,
        report.unreachable.len(),
        report.excluded.len(),
        report.not_reached.len()
    );
    for skipped in &report.unreachable {
        let _ = writeln!(out, "UNREACHABLE {}: {}", place(skipped), skipped.reason);
    }
    for skipped in &report.not_reached {
        let _ = writeln!(out, "NOT REACHED {}: {}", place(skipped), skipped.reason);
    }
    for a in &report.accounts {
        let _ = writeln!(
            out,
            "\n== {} ({}) in {}",
            a.account.account_name,
            a.account.account,
            a.account.units.join(" / ")
        );
        for line in to_text(&a.audit).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(
        out,
        "\n{} users, {} active keys in {} accounts: {} under rotation, {} not",
        s.users, s.active_keys, s.accounts, s.managed_keys, s.unmanaged_keys
    );
    out
}

/// One row per finding, as the account audit's CSV, with `account` and `account_name` first; an
/// unreachable account is a row of its own (check `account-unreachable`).
pub fn org_to_csv(report: &OrgAudit) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header_written = false;
    let mut width = 0;
    for a in &report.accounts {
        let text = to_csv(&a.audit);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        if !header_written && let Ok(header) = reader.headers() {
            width = header.len();
            let mut row = vec!["account", "account_name"];
            row.extend(header.iter());
            let _ = writer.write_record(&row);
            header_written = true;
        }
        for record in reader.records().flatten() {
            let mut row = vec![a.account.account.as_str(), a.account.account_name.as_str()];
            row.extend(record.iter());
            let _ = writer.write_record(&row);
        }
    }
    if !header_written {
        let _ = writer.write_record(["account", "account_name", "check", "detail"]);
        width = 2;
    }
    for s in &report.unreachable {
        let mut row = vec![
            s.account.account.clone(),
            s.account.account_name.clone(),
            "account-unreachable".to_string(),
            s.reason.clone(),
        ];
        row.resize(width + 2, String::new());
        let _ = writer.write_record(&row);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// One page: the accounts at a glance, the unreachable ones, then each account's audit.
pub fn org_to_html(report: &OrgAudit) -> String {
    let mut out = html_head("IAM access key audit of the organization");
    out += "<h2>Accounts</h2>\n<table id=\"accounts\"><tr><th>account</th><th>name</th><th>units</th><th>users</th><th>active keys</th><th>not under rotation</th><th>findings</th></tr>\n";
    for a in &report.accounts {
        let s = &a.audit.summary;
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#account-{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.account.account_name),
            esc(&a.account.units.join(" / ")),
            s.users,
            s.active_keys,
            s.unmanaged_keys,
            a.audit.findings.len(),
            id = esc(&a.account.account),
        );
    }
    out += "</table>\n";
    if !report.unreachable.is_empty() || !report.not_reached.is_empty() {
        out += "<h2 class=\"high\">Accounts not audited</h2>\n<table id=\"unreachable\"><tr><th>account</th><th>name</th><th>why</th></tr>\n";
        for s in report.unreachable.iter().chain(&report.not_reached) {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.account.account),
                esc(&s.account.account_name),
                esc(&s.reason)
            );
        }
        out += "</table>\n";
    }
    for a in &report.accounts {
        let _ = writeln!(
            out,
            "<h2 id=\"account-{}\">{} ({})</h2>",
            esc(&a.account.account),
            esc(&a.account.account_name),
            esc(&a.account.account)
        );
        out += &html_body(&a.audit, 3);
    }
    out += "</body></html>\n";
    out
}
