//! Security Hub through the AWS SDK: our findings in its format, imported and read back.

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_securityhub::Client;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, Compliance, ComplianceStatus, Recommendation,
    RecordState, Remediation, Resource, Severity, SeverityLabel, StringFilter,
    StringFilterComparison,
};

use super::aws_error;
use crate::error::Result;
use crate::services::{FindingsHub, HubFinding};

/// The ASFF version every finding declares.
const SCHEMA_VERSION: &str = "2018-10-08";

pub struct SecurityHub {
    client: Client,
}

impl SecurityHub {
    pub fn new(sdk: &SdkConfig) -> Self {
        SecurityHub {
            client: Client::new(sdk),
        }
    }
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn to_sdk(f: &HubFinding) -> AwsSecurityFinding {
    AwsSecurityFinding::builder()
        .schema_version(SCHEMA_VERSION)
        .id(&f.id)
        .product_arn(&f.product_arn)
        .generator_id(&f.generator_id)
        .aws_account_id(&f.account_id)
        .set_types(Some(f.types.clone()))
        .created_at(rfc3339(f.created_at))
        .updated_at(rfc3339(f.updated_at))
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(f.severity.as_str()))
                .build(),
        )
        .title(&f.title)
        .description(&f.description)
        .remediation(
            Remediation::builder()
                .recommendation(Recommendation::builder().text(&f.remediation).build())
                .build(),
        )
        .resources(
            Resource::builder()
                .r#type(&f.resource_type)
                .id(&f.resource_id)
                .region(&f.region)
                .build(),
        )
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(f.compliance.as_str()))
                .build(),
        )
        .record_state(RecordState::from(f.record_state.as_str()))
        .build()
}

fn from_sdk(f: &AwsSecurityFinding) -> HubFinding {
    let time = |t: Option<&str>| {
        t.and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    let text = |t: Option<&str>| t.unwrap_or_default().to_string();
    let resource = f.resources().first();
    HubFinding {
        id: text(f.id()),
        product_arn: text(f.product_arn()),
        generator_id: text(f.generator_id()),
        account_id: text(f.aws_account_id()),
        region: text(resource.and_then(|r| r.region()).or(f.region())),
        created_at: time(f.created_at()),
        updated_at: time(f.updated_at()),
        severity: text(f.severity().and_then(|s| s.label()).map(|l| l.as_str())),
        title: text(f.title()),
        description: text(f.description()),
        types: f.types().to_vec(),
        resource_type: text(resource.and_then(|r| r.r#type())),
        resource_id: text(resource.and_then(|r| r.id())),
        remediation: text(
            f.remediation()
                .and_then(|r| r.recommendation())
                .and_then(|r| r.text()),
        ),
        compliance: text(f.compliance().and_then(|c| c.status()).map(|s| s.as_str())),
        record_state: text(f.record_state().map(|s| s.as_str())),
    }
}

fn filter(value: &str, comparison: StringFilterComparison) -> StringFilter {
    StringFilter::builder()
        .value(value)
        .comparison(comparison)
        .build()
}

impl FindingsHub for SecurityHub {
    async fn import(&self, findings: &[HubFinding]) -> Result<Vec<(String, String)>> {
        let out = self
            .client
            .batch_import_findings()
            .set_findings(Some(findings.iter().map(to_sdk).collect()))
            .send()
            .await
            .map_err(|e| aws_error("BatchImportFindings", e))?;
        Ok(out
            .failed_findings()
            .iter()
            .map(|f| {
                let why = format!(
                    "{}: {}",
                    f.error_code().unwrap_or("refused"),
                    f.error_message().unwrap_or_default()
                );
                (f.id().unwrap_or_default().to_string(), why)
            })
            .collect())
    }

    async fn active(&self, product_arn: &str, generator: &str) -> Result<Vec<HubFinding>> {
        let filters = AwsSecurityFindingFilters::builder()
            .product_arn(filter(product_arn, StringFilterComparison::Equals))
            .generator_id(filter(generator, StringFilterComparison::Prefix))
            .record_state(filter("ACTIVE", StringFilterComparison::Equals))
            .build();
        let mut found = Vec::new();
        let mut pages = self
            .client
            .get_findings()
            .filters(filters)
            .max_results(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("GetFindings", e))?;
            found.extend(page.findings().iter().map(from_sdk));
        }
        Ok(found)
    }
}
