//! template.yaml as CloudFormation reads it: safe by default and deletable, with no host name or
//! architecture written twice. (The policy itself is proven in `least_privilege.rs`.)

mod support;

use std::process::Command;

use serde_json::Value;
use support::project_root;

/// The template, decoded by cfn-lint (short-form tags become `Ref`, `Fn::Sub`, ...).
fn template() -> Value {
    let root = project_root();
    let status = Command::new("bash")
        .arg(root.join("scripts/venv.sh"))
        .status()
        .expect("bash runs scripts/venv.sh");
    assert!(status.success());
    let out = Command::new(root.join(".venv/bin/python"))
        .args([
            "-c",
            "import json, sys; from cfnlint.decode import decode; t, p = decode(sys.argv[1]); assert not p, p; print(json.dumps(t))",
        ])
        .arg(root.join("template.yaml"))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the template as JSON")
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

#[test]
fn users_are_bound_to_their_secret_by_tag_by_default() {
    let template = template();
    let variables =
        &template["Resources"]["RotationFunction"]["Properties"]["Environment"]["Variables"];
    let tag = &variables["ROTATOR_USER_TAG"];
    assert_eq!(
        tag["Fn::If"][1]["Ref"], "UserTagKey",
        "ROTATOR_USER_TAG comes from a parameter: {tag}"
    );
    assert_eq!(
        template["Parameters"]["UserTagKey"]["Default"],
        "iam-key-rotator:secret"
    );
}

#[test]
fn the_stack_can_be_deleted_after_the_function_rotated_its_example() {
    let template = template();
    // A key made by the stack would be deleted by the function's second rotation, and a user
    // holding the function's keys cannot be deleted: the stack must make no key, keep the user.
    assert!(resources_of_type(&template, "AWS::IAM::AccessKey").is_empty());
    for (name, user) in resources_of_type(&template, "AWS::IAM::User") {
        assert_eq!(user["DeletionPolicy"], "Retain", "{name}");
    }
    let secret = &template["Resources"]["ExampleSecret"]["Properties"]["SecretString"];
    assert!(
        !secret.to_string().contains("SecretAccessKey"),
        "the example secret starts without a key: {secret}"
    );
}

#[test]
fn service_hosts_use_the_partitions_url_suffix_and_logs_expire() {
    let text = std::fs::read_to_string(project_root().join("template.yaml")).unwrap();
    // Service principals keep their name in every partition; hosts do not.
    for line in text.lines().filter(|l| l.contains("amazonaws.com")) {
        assert!(
            line.trim_start().starts_with("Principal:")
                || line.trim_start().starts_with("Service:"),
            "name hosts with ${{AWS::URLSuffix}}: {line}"
        );
    }
    let template = template();
    let groups = resources_of_type(&template, "AWS::Logs::LogGroup");
    assert!(!groups.is_empty());
    for (name, group) in &groups {
        assert!(
            group["Properties"]["RetentionInDays"].is_object(),
            "{name} expires"
        );
    }
    let used = &template["Resources"]["RotationFunction"]["Properties"]["LoggingConfig"]["LogGroup"]
        ["Ref"];
    assert!(
        groups.iter().any(|(name, _)| *used == name.as_str()),
        "{used}"
    );
}

#[test]
fn make_deploy_installs_its_tools_and_builds_what_it_deploys() {
    let makefile = std::fs::read_to_string(project_root().join("Makefile")).unwrap();
    let recipe: Vec<&str> = makefile
        .split("\ndeploy:")
        .nth(1)
        .expect("a deploy target")
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('\t'))
        .collect();
    assert!(
        recipe[0].contains("requirements-build.txt")
            && recipe[0].contains("requirements-deploy.txt"),
        "cargo-lambda, zig and the SAM CLI are installed first: {recipe:?}"
    );
    let build = recipe.iter().find(|l| l.contains(" build")).unwrap();
    let deploy = recipe.iter().find(|l| l.contains(" deploy")).unwrap();
    for line in [build, deploy] {
        assert!(line.contains("Architecture=$(ARCH)"), "{line}");
        assert!(
            line.contains("$(SAM)"),
            "sam from ./.venv, with the tools on PATH: {line}"
        );
    }
}

#[test]
fn the_sweep_runs_on_a_schedule_and_alerts_reach_one_topic() {
    let template = template();
    let function = &template["Resources"]["RotationFunction"]["Properties"];
    let inputs: Vec<Value> = function["Events"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| serde_json::from_str(e["Properties"]["Input"].as_str().unwrap()).unwrap())
        .collect();
    assert!(
        inputs
            .iter()
            .any(|i| i["Action"] == "sweep" && i.get("Deep").is_none())
    );
    assert!(
        inputs
            .iter()
            .any(|i| i["Action"] == "sweep" && i["Deep"] == true)
    );
    let variables = &function["Environment"]["Variables"];
    for name in [
        "ROTATOR_DEACTIVATE_AFTER",
        "ROTATOR_QUIET_FOR",
        "ROTATOR_LAST_USE_LAG",
        "ROTATOR_DELETE_AFTER",
        "ROTATOR_SECRET_NAME_PREFIX",
    ] {
        assert!(variables[name].is_object(), "{name} comes from a parameter");
    }
    assert_eq!(template["Parameters"]["DeactivateAfter"]["Default"], "24h");

    let topics = resources_of_type(&template, "AWS::SNS::Topic");
    assert_eq!(topics.len(), 1);
    let topic = topics[0].0.as_str();
    let mut alarmed: Vec<&str> = resources_of_type(&template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(_, alarm)| {
            assert_eq!(alarm["Properties"]["AlarmActions"][0]["Ref"], topic);
            let namespace = alarm["Properties"]["Namespace"].as_str().unwrap();
            let metric = alarm["Properties"]["MetricName"].as_str().unwrap();
            match namespace {
                "IamKeyRotator" => {}
                // Lambda's own count of failed runs: a run that times out writes no metric of ours.
                "AWS/Lambda" => assert_eq!(
                    (
                        metric,
                        &alarm["Properties"]["Dimensions"][0]["Value"]["Ref"]
                    ),
                    ("Errors", &serde_json::json!("AuditFunction"))
                ),
                other => panic!("an alarm on {other}"),
            }
            metric
        })
        .collect();
    alarmed.sort();
    assert_eq!(
        alarmed,
        [
            "AuditAccountUnreachable",
            "AuditHighSeverity",
            "CurrentKeyBroken",
            "DeliveryStale",
            "Errors",
            "PreviousKeyInUse",
            "RotationOverdue",
            "RotationStuck",
            "SecurityHubNotImported",
            "SweepErrors"
        ]
    );
    let rules = resources_of_type(&template, "AWS::Events::Rule");
    let rule = &rules[0].1["Properties"];
    assert_eq!(rule["Targets"][0]["Arn"]["Ref"], topic);
    assert_eq!(
        rule["EventPattern"]["detail"]["eventName"],
        serde_json::json!(["RotationFailed", "RotationAbandoned", "TestRotationFailed"])
    );
}

#[test]
fn only_list_secrets_is_granted_on_every_resource() {
    let template = template();
    let statements =
        template["Resources"]["RotationFunction"]["Properties"]["Policies"][0]["Statement"]
            .as_array()
            .unwrap()
            .clone();
    for statement in statements {
        if statement["Resource"] == "*" {
            assert_eq!(
                statement["Action"], "secretsmanager:ListSecrets",
                "{statement}"
            );
        }
    }
}

#[test]
fn the_audit_is_off_by_default_and_reads_only() {
    let template = template();
    assert_eq!(template["Parameters"]["EnableAudit"]["Default"], "false");
    let audit = &template["Resources"]["AuditFunction"];
    assert_eq!(audit["Condition"], "WithAudit");
    // The schedule's input, as CloudFormation substitutes the parameters' defaults into it.
    let mut input = audit["Properties"]["Events"]["Audit"]["Properties"]["Input"]["Fn::Sub"]
        .as_str()
        .unwrap()
        .to_string();
    for name in ["AuditOrganization", "AuditSecurityHub"] {
        let default = template["Parameters"][name]["Default"].as_str().unwrap();
        input = input.replace(&format!("${{{name}}}"), default);
    }
    let input: Value = serde_json::from_str(&input).unwrap();
    assert_eq!(
        input,
        serde_json::json!({"Action": "audit", "Organization": false, "SecurityHub": false})
    );
    let actions: Vec<String> = audit["Properties"]["Policies"][0]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a.iter().map(|a| a.as_str().unwrap().to_string()).collect(),
            _ => Vec::new(),
        })
        .collect();
    for action in &actions {
        let verb = action.split(':').nth(1).unwrap();
        assert!(
            ["Get", "List", "Generate", "BatchGet"]
                .iter()
                .any(|read| verb.starts_with(read)),
            "the audit's role may only read: {action}"
        );
    }
}

#[test]
fn the_audit_can_read_secrets_under_the_customer_managed_key_through_secrets_manager_only() {
    let template = template();
    let policies = template["Resources"]["AuditFunction"]["Properties"]["Policies"]
        .as_array()
        .unwrap();
    let kms = policies
        .iter()
        .find_map(|p| {
            let branches = p["Fn::If"].as_array()?;
            (branches[0] == "HasKmsKey").then(|| branches[1].clone())
        })
        .expect("a kms statement when KmsKeyArn is set");
    let statement = &kms["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(
        statement["Action"], "kms:Decrypt",
        "decrypt only: {statement}"
    );
    assert_eq!(
        statement["Resource"],
        serde_json::json!({"Ref": "KmsKeyArn"})
    );
    assert_eq!(
        statement["Condition"]["StringEquals"]["kms:ViaService"],
        serde_json::json!({"Fn::Sub": "secretsmanager.${AWS::Region}.${AWS::URLSuffix}"})
    );
}

#[test]
fn the_function_may_set_only_its_own_tags_on_secrets() {
    let template = template();
    let statements =
        template["Resources"]["RotationFunction"]["Properties"]["Policies"][0]["Statement"]
            .as_array()
            .unwrap()
            .clone();
    let tagging: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            s["Action"] == "secretsmanager:TagResource"
                || s["Action"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|a| a == "secretsmanager:TagResource"))
        })
        .collect();
    assert!(!tagging.is_empty(), "the sweep notes its progress in a tag");
    for statement in tagging {
        assert_eq!(
            statement["Action"], "secretsmanager:TagResource",
            "TagResource stands alone, under its own condition: {statement}"
        );
        let condition = &statement["Condition"];
        let keys = condition["ForAllValues:StringLike"]["aws:TagKeys"]
            .as_str()
            .or_else(|| condition["ForAllValues:StringEquals"]["aws:TagKeys"].as_str());
        assert_eq!(keys, Some("iam-key-rotator:*"), "{statement}");
    }
}

#[test]
fn the_clis_fallback_is_what_the_template_deploys_by_default() {
    // When a function's settings cannot be read, the CLI acts with these: they must stay the
    // template's own defaults, or the fallback would drift from what is deployed.
    let template = template();
    let variables = &resources_of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .find(|(_, f)| {
            f["Properties"]["Environment"]["Variables"]["ROTATOR_DEACTIVATE_AFTER"].is_object()
        })
        .expect("the rotation function")
        .1["Properties"]["Environment"]["Variables"];
    for (name, value) in iam_key_rotator::deployed::TEMPLATE_DEFAULTS {
        // A parameter's value, directly or under the condition that sets it.
        let reference = &variables[name];
        let parameter = reference["Ref"]
            .as_str()
            .or_else(|| reference["Fn::If"][1]["Ref"].as_str())
            .unwrap_or_else(|| panic!("{name} comes from a parameter: {reference}"));
        assert_eq!(
            template["Parameters"][parameter]["Default"], value,
            "{name} ({parameter})"
        );
    }
}

/// The statement the rotation function gets under `condition`, when it holds.
fn conditional_statement(template: &Value, condition: &str) -> Value {
    template["Resources"]["RotationFunction"]["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|p| {
            let branches = p["Fn::If"].as_array()?;
            (branches[0] == condition).then(|| branches[1]["Statement"][0].clone())
        })
        .unwrap_or_else(|| panic!("no statement under {condition}"))
}

#[test]
fn delivery_is_off_by_default_and_reaches_only_what_the_deployer_names() {
    let template = template();
    for parameter in ["SsmPrefix", "GitHubOwners", "GitHubCredentialsSecretArn"] {
        assert_eq!(
            template["Parameters"][parameter]["Default"], "",
            "{parameter}"
        );
    }
    let variables =
        &template["Resources"]["RotationFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        variables["ROTATOR_SSM_PREFIX"]["Fn::If"][0],
        "DeliversToSsm"
    );
    assert_eq!(
        variables["ROTATOR_GITHUB_OWNERS"]["Fn::If"][0],
        "DeliversToGitHub"
    );
    assert_eq!(
        variables["ROTATOR_GITHUB_CREDENTIALS"]["Fn::If"][1]["Ref"],
        "GitHubCredentialsSecretArn"
    );

    // SSM: read and write parameters under the prefix, nothing else.
    let ssm = conditional_statement(&template, "DeliversToSsm");
    assert_eq!(
        ssm["Action"],
        serde_json::json!(["ssm:GetParameter", "ssm:PutParameter"])
    );
    assert_eq!(
        ssm["Resource"]["Fn::Sub"],
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SsmPrefix}*"
    );
    // The parameters' key, through SSM only.
    let kms = conditional_statement(&template, "DeliversToSsmUnderKmsKey");
    assert_eq!(
        kms["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Sub"],
        "ssm.${AWS::Region}.${AWS::URLSuffix}"
    );
    // GitHub: the one credentials secret, read only.
    let github = conditional_statement(&template, "DeliversToGitHub");
    assert_eq!(github["Action"], "secretsmanager:GetSecretValue");
    assert_eq!(
        github["Resource"],
        serde_json::json!({"Ref": "GitHubCredentialsSecretArn"})
    );
    // The prefix is a path, so it cannot widen to a sibling (/ci matching /ci-prod/).
    let pattern = template["Parameters"]["SsmPrefix"]["AllowedPattern"]
        .as_str()
        .unwrap();
    assert!(pattern.ends_with("/$"), "{pattern}");
}

#[test]
fn both_templates_deploy_as_written_and_make_what_the_readme_promises() {
    template(); // installs the venv's tools, the SAM translator among them
    let out = Command::new(project_root().join(".venv/bin/python"))
        .arg(project_root().join("tests/support/deploy_templates.py"))
        .output()
        .expect("python runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    for stack in ["template.yaml [defaults]", "member-role.yaml [audit-role]"] {
        assert!(
            printed.contains(stack),
            "{stack} was not deployed: {printed}"
        );
    }
    assert!(printed.contains(" 0 failed"), "{printed}");
}
