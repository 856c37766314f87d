//! Organizations through the AWS SDK: the tree of units and accounts, every page of it.

use aws_config::SdkConfig;
use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::ChildType;

use super::aws_error;
use crate::error::Result;
use crate::services::{OrgAccount, OrgUnit, OrganizationTree};

pub struct Organization {
    client: Client,
    sts: aws_sdk_sts::Client,
}

impl Organization {
    pub fn new(sdk: &SdkConfig) -> Self {
        Organization {
            client: Client::new(sdk),
            sts: aws_sdk_sts::Client::new(sdk),
        }
    }
}

impl OrganizationTree for Organization {
    async fn caller_account(&self) -> Result<String> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_error("GetCallerIdentity", e))?;
        Ok(out.account().unwrap_or_default().to_string())
    }

    async fn roots(&self) -> Result<Vec<OrgUnit>> {
        let mut roots = Vec::new();
        let mut pages = self.client.list_roots().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ListRoots", e))?;
            roots.extend(page.roots().iter().map(|r| OrgUnit {
                id: r.id().unwrap_or_default().to_string(),
                name: r.name().unwrap_or("Root").to_string(),
            }));
        }
        Ok(roots)
    }

    async fn child_units(&self, parent: &str) -> Result<Vec<OrgUnit>> {
        let mut ids = Vec::new();
        let mut pages = self
            .client
            .list_children()
            .parent_id(parent)
            .child_type(ChildType::OrganizationalUnit)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ListChildren", e))?;
            ids.extend(
                page.children()
                    .iter()
                    .filter_map(|c| c.id().map(str::to_string)),
            );
        }
        // ListChildren names no unit; DescribeOrganizationalUnit does, one call each.
        let mut units = Vec::new();
        for id in ids {
            let out = self
                .client
                .describe_organizational_unit()
                .organizational_unit_id(&id)
                .send()
                .await
                .map_err(|e| aws_error("DescribeOrganizationalUnit", e))?;
            let name = out
                .organizational_unit()
                .and_then(|u| u.name())
                .unwrap_or(&id)
                .to_string();
            units.push(OrgUnit { id, name });
        }
        Ok(units)
    }

    async fn accounts_in(&self, parent: &str) -> Result<Vec<OrgAccount>> {
        let mut accounts = Vec::new();
        let mut pages = self
            .client
            .list_accounts_for_parent()
            .parent_id(parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ListAccountsForParent", e))?;
            accounts.extend(page.accounts().iter().map(|a| {
                OrgAccount {
                    id: a.id().unwrap_or_default().to_string(),
                    name: a.name().unwrap_or_default().to_string(),
                    // AWS retired Status on 9 September 2026; State is what it answers now.
                    state: a
                        .state()
                        .map(|s| s.as_str().to_string())
                        .or_else(|| a.status().map(|s| s.as_str().to_string()))
                        .unwrap_or_default(),
                }
            }));
        }
        Ok(accounts)
    }
}
