//! A secret's destinations, looked at by the sweep: each must hold the current key (an SSM
//! parameter read back; each GitHub secret written by the recorded delivery). One that does not
//! is a DeliveryStale finding, and keeps the previous key from being retired.

use std::time::{Duration, Instant};

use super::{Delivery, Finding, FindingKind, Summary};
use crate::delivery::{Destination, Expected, Holds};
use crate::engine::Rotator;
use crate::error::Result;
use crate::secret::KeySecret;
use crate::services::{AWSCURRENT, SecretSummary, SecretVersions, Services};

/// How long the sweep gives one secret's destinations: short, so that a GitHub outage cannot
/// hold a sweep of many secrets past the function's timeout.
const BUDGET: Duration = Duration::from_secs(15);

/// Looks at every destination of `current` (AWSCURRENT's value) and reports what each holds;
/// whether all of them hold its key. A destination that cannot be read now is listed among the
/// sweep's errors, and counts as not confirmed.
pub async fn check<X: Services>(
    rotator: &Rotator<X>,
    secret: &SecretSummary,
    current: &KeySecret,
    destinations: &[Destination],
    report: &mut Summary,
) -> Result<bool> {
    let Some(key_id) = current.key_id() else {
        return Ok(true);
    };
    // An adopted key was put into its destinations by hand, so nothing records a delivery to
    // GitHub yet; an SSM parameter still tells which key it holds.
    let destinations: Vec<Destination> = destinations
        .iter()
        .filter(|d| !current.is_adopted_key() || matches!(d, Destination::Ssm { .. }))
        .cloned()
        .collect();
    if destinations.is_empty() {
        return Ok(true);
    }
    // ListSecrets may be minutes behind: a rotation may have begun or ended since, and its
    // destinations then hold a newer key than this listing's AWSCURRENT. Read afresh (the record
    // of the last delivery to GitHub is a tag too), and say nothing until it has settled.
    let fresh = rotator.secrets().describe(&secret.arn).await?;
    let listed = secret.labelled(AWSCURRENT).map(|v| v.id.as_str());
    if fresh.unfinished_rotation().is_some()
        || fresh.labelled(AWSCURRENT).map(|v| v.id.as_str()) != listed
    {
        return Ok(false);
    }
    let tags = fresh.tags;
    let expected = Expected {
        key_id,
        secret: current.key().map(|k| &k.secret),
    };
    let holdings = rotator
        .holdings(&tags, &expected, &destinations, Instant::now() + BUDGET)
        .await;
    let mut all_hold = true;
    for holding in holdings {
        match &holding.holds {
            Holds::Key => {}
            Holds::Missing(why) | Holds::Other(why) => {
                all_hold = false;
                report.findings.push(Finding {
                    secret_id: secret.name.clone(),
                    kind: FindingKind::DeliveryStale,
                    detail: format!(
                        "{} does not hold the current key {key_id}: {why}. Its consumers sign with something else; deliver the current key again (iam-key-rotator-cli deliver --secret-id {}), or rotate",
                        holding.destination, secret.name
                    ),
                });
            }
            Holds::Unreadable(why) => {
                all_hold = false;
                report.errors.push(format!(
                    "{}: could not read {}: {why}",
                    secret.name, holding.destination
                ));
            }
        }
        report.deliveries.push(Delivery {
            secret_id: secret.name.clone(),
            holding,
        });
    }
    Ok(all_hold)
}
