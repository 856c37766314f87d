//! Which accounts of the organization an audit covers: included by account or unit (at any depth),
//! excluded the same ways, exclusion winning; ids checked first, since a mistyped one matches
//! nothing.

use crate::error::{Error, Result};
use crate::services::{OrgAccount, OrgUnit};

/// Which accounts to audit. An account is audited when it is included (by id, or by lying under
/// an included unit at any depth; everything when nothing is included) and not excluded the same
/// ways; exclusion wins.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub include_accounts: Vec<String>,
    pub exclude_accounts: Vec<String>,
    /// Organizational unit (or root) ids.
    pub include_units: Vec<String>,
    pub exclude_units: Vec<String>,
}

impl Selection {
    /// Refuses an id that is not an account's (12 digits) or a unit's (`ou-...`, `r-...`): one
    /// mistyped would match nothing, and an account meant to be left out would be audited.
    pub fn check(&self) -> Result<()> {
        let bad_account = self
            .include_accounts
            .iter()
            .chain(&self.exclude_accounts)
            .find(|id| !crate::accounts::is_account_id(id));
        if let Some(id) = bad_account {
            return Err(Error::InvalidConfig(format!(
                "{id:?} is not an AWS account id (12 digits); correct --include-account/--exclude-account (IncludeAccounts/ExcludeAccounts)"
            )));
        }
        let bad_unit = self
            .include_units
            .iter()
            .chain(&self.exclude_units)
            .find(|id| !is_unit_id(id));
        if let Some(id) = bad_unit {
            return Err(Error::InvalidConfig(format!(
                "{id:?} is not an organizational unit or root id (ou-xxxx-xxxxxxxx, r-xxxx); correct --include-ou/--exclude-ou (IncludeUnits/ExcludeUnits)"
            )));
        }
        Ok(())
    }
}

/// Organizations' id formats: `ou-` then 4 to 32 lowercase letters or digits, a dash and 8 to 32
/// more; `r-` then 4 to 32.
fn is_unit_id(id: &str) -> bool {
    let alnum = |s: &str, min: usize| {
        (min..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    match (id.strip_prefix("ou-"), id.strip_prefix("r-")) {
        (Some(rest), _) => rest
            .split_once('-')
            .is_some_and(|(root, unit)| alnum(root, 4) && alnum(unit, 8)),
        (_, Some(root)) => alnum(root, 4),
        _ => false,
    }
}

/// Why the selection leaves this account out, if it does.
pub(super) fn why_left_out(
    selection: &Selection,
    account: &OrgAccount,
    units: &[OrgUnit],
) -> Option<String> {
    if account.state != "ACTIVE" {
        return Some(format!("the account is {}", account.state));
    }
    if selection.exclude_accounts.contains(&account.id) {
        return Some("excluded by account id".into());
    }
    if let Some(unit) = units
        .iter()
        .find(|u| selection.exclude_units.contains(&u.id))
    {
        return Some(format!(
            "excluded with its unit {} ({})",
            unit.name, unit.id
        ));
    }
    let nothing_included =
        selection.include_accounts.is_empty() && selection.include_units.is_empty();
    let included = selection.include_accounts.contains(&account.id)
        || units
            .iter()
            .any(|u| selection.include_units.contains(&u.id));
    (!nothing_included && !included).then(|| "not among the included accounts or units".into())
}
