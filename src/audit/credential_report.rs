//! IAM's credential report, read by column name: one row per user, the root account included.

use std::time::SystemTime;

use serde::Deserialize;

/// The root account's row.
pub const ROOT: &str = "<root_account>";

/// One user's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub user: String,
    pub arn: String,
    pub created: Option<SystemTime>,
    pub password_enabled: bool,
    pub password_last_used: Option<SystemTime>,
    pub mfa_active: bool,
    pub keys: [KeySlot; 2],
}

impl UserRow {
    pub fn is_root(&self) -> bool {
        self.user == ROOT
    }
}

/// One of a user's two access key slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySlot {
    /// 1 or 2, as the report numbers them.
    pub slot: u8,
    pub active: bool,
    /// When the key was made (or last changed).
    pub last_rotated: Option<SystemTime>,
    pub last_used: Option<SystemTime>,
}

/// The columns the audit reads; the report has more.
#[derive(Deserialize)]
struct Row {
    user: String,
    arn: String,
    user_creation_time: String,
    password_enabled: String,
    password_last_used: String,
    mfa_active: String,
    access_key_1_active: String,
    access_key_1_last_rotated: String,
    access_key_1_last_used_date: String,
    access_key_2_active: String,
    access_key_2_last_rotated: String,
    access_key_2_last_used_date: String,
}

/// Parses the report; the error names the line that is wrong.
pub fn parse(csv_text: &str) -> Result<Vec<UserRow>, String> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let mut rows = Vec::new();
    for (n, row) in reader.deserialize::<Row>().enumerate() {
        let row = row.map_err(|e| {
            format!(
                "the credential report's line {} is not readable: {e}",
                n + 2
            )
        })?;
        rows.push(UserRow {
            keys: [
                slot(
                    1,
                    &row.access_key_1_active,
                    &row.access_key_1_last_rotated,
                    &row.access_key_1_last_used_date,
                ),
                slot(
                    2,
                    &row.access_key_2_active,
                    &row.access_key_2_last_rotated,
                    &row.access_key_2_last_used_date,
                ),
            ],
            created: date(&row.user_creation_time),
            // Real reports say "not_supported" for the root account: treat it as "unknown", not "no".
            password_enabled: row.password_enabled == "true",
            password_last_used: date(&row.password_last_used),
            mfa_active: row.mfa_active == "true",
            user: row.user,
            arn: row.arn,
        });
    }
    Ok(rows)
}

fn slot(slot: u8, active: &str, last_rotated: &str, last_used: &str) -> KeySlot {
    KeySlot {
        slot,
        active: active == "true",
        last_rotated: date(last_rotated),
        last_used: date(last_used),
    }
}

/// A date as the report writes it (`2026-01-31T09:15:00+00:00`); `N/A`, `no_information`,
/// `not_supported` and anything else are no date.
fn date(text: &str) -> Option<SystemTime> {
    crate::dates::rfc3339(text)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

    #[test]
    fn rows_are_read_by_column_name_with_awss_placeholders() {
        let csv = format!(
            "{HEADER}\n<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2026-11-20T10:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\nci-bot,arn:aws:iam::123456789012:user/ci-bot,2025-01-01T00:00:00+00:00,false,not_supported,not_supported,not_supported,false,true,2026-08-01T12:00:00+00:00,2026-11-22T08:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        );
        let rows = parse(&csv).unwrap();
        assert!(rows[0].is_root());
        assert!(rows[0].mfa_active);
        assert!(!rows[0].password_enabled, "not_supported is not a yes");
        assert!(rows[0].password_last_used.is_some());
        let bot = &rows[1];
        assert!(bot.keys[0].active && !bot.keys[1].active);
        assert_eq!(
            bot.keys[0].last_rotated,
            Some(UNIX_EPOCH + Duration::from_secs(1_785_585_600))
        );
        assert!(bot.keys[1].last_rotated.is_none());
    }

    #[test]
    fn a_broken_report_is_refused_with_its_line() {
        let err = parse(&format!("{HEADER}\nonly,three,fields\n")).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}
