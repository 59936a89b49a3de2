//! The SCIM 2.0 conformance checker scim2-tester, run against a server
//! under test: [`run_scim_tester`] runs `scim2 --url URL test` (scim2-cli's
//! front end to it) and parses its report; [`run_scim_tester_tags`] calls
//! the library directly to run only some checks (for a read-only server).
//!
//! What scim2-tester 0.5.2 does, in order:
//!
//! 1. Discovery. `scim2` first reads `/ResourceTypes`, `/Schemas` and
//!    `/ServiceProviderConfig` and builds its models from them; if that fails
//!    it stops with "Could not discover the server at URL" (exit 1, no
//!    checks). Then the checks `service_provider_config_endpoint` (GET 200),
//!    `service_provider_config_endpoint_methods` (POST, PUT, PATCH, DELETE
//!    each answer 405), `query_all_resource_types` (a non-empty ListResponse),
//!    `query_resource_type_by_id` (GET `/ResourceTypes/{id}` for each),
//!    `resource_types_schema_validation` (GET `/Schemas/{schema}` of each
//!    resource type), `access_invalid_resource_type` (GET
//!    `/ResourceTypes/<uuid>` answers 404 with a SCIM Error body),
//!    `resource_types_endpoint_methods` (405s), `query_all_schemas`,
//!    `access_schema_by_id` (GET `/Schemas/{urn}` for each),
//!    `access_invalid_schema` (404 Error), `schemas_endpoint_methods` (405s).
//!    Every response with a body must be `application/scim+json` or
//!    `application/json` and match the expected status.
//! 2. `random_url`: GET `/<uuid>` answers 404 with a SCIM Error body.
//! 3. For each resource type (User, Group, ...), each check creating its own
//!    resources with POST and deleting them afterwards: `object_creation`
//!    (POST 201), `object_query` (GET by id), `object_query_without_id` (the
//!    new resource is in GET `/Users`), `object_query_with_attributes`,
//!    `object_list_with_attributes`, `search_with_attributes` (POST
//!    `/.search`; a 501 skips it) honouring `attributes`/`excludedAttributes`,
//!    `object_replacement` (PUT 200), `object_deletion` (DELETE 204, then GET
//!    404), then `check_add_attribute`, `check_remove_attribute`,
//!    `check_replace_attribute`: one PATCH per attribute (skipped when the
//!    configuration says `patch.supported: false`). Creations fill the
//!    required attributes, or every writable one (emails, phoneNumbers,
//!    password, the enterprise extension, ...) with random values; a Group's
//!    members are Users it creates first.
//!
//! A read-only server (lists and reads, refuses writes) therefore fails
//! every step-3 check, reads included, since each starts with a POST; with
//! `patch.supported: false` the PATCH checks are SKIPPED, which `scim2 test`
//! still counts as a failure (it exits 1 unless every check is SUCCESS).
//! Steps 1 and 2 pass on their own: use
//! `run_scim_tester_tags(url, token, &["discovery", "misc"], &[])`.

use std::fmt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// A check's verdict, as scim2-tester names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckStatus {
    /// Conforms to the RFC's MUSTs.
    Success,
    /// Follows a SHOULD.
    Compliant,
    /// Uses a MAY reasonably.
    Acceptable,
    /// Departs from a SHOULD.
    Deviation,
    /// Violates a MUST.
    Error,
    /// A security risk or a fundamental protocol violation.
    Critical,
    /// Not run (filtered out, or a prerequisite such as PATCH support missing).
    Skipped,
}

impl CheckStatus {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SUCCESS" => Self::Success,
            "COMPLIANT" => Self::Compliant,
            "ACCEPTABLE" => Self::Acceptable,
            "DEVIATION" => Self::Deviation,
            "ERROR" => Self::Error,
            "CRITICAL" => Self::Critical,
            "SKIPPED" => Self::Skipped,
            _ => return None,
        })
    }

    /// Success, Compliant or Acceptable.
    pub fn is_pass(self) -> bool {
        matches!(self, Self::Success | Self::Compliant | Self::Acceptable)
    }

    /// Deviation, Error or Critical.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Deviation | Self::Error | Self::Critical)
    }
}

/// One result line of the report. A check may yield several (one per
/// method, per resource type, per attribute, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimCheck {
    pub status: CheckStatus,
    /// The checker's function name, e.g. `object_creation`.
    pub name: String,
    /// Why it passed or failed, when the checker says (may span lines).
    pub reason: Option<String>,
    /// `User`, `Group`, ... for per-resource-type checks; only
    /// [`run_scim_tester_tags`] knows it (`scim2 test` does not print it).
    pub resource_type: Option<String>,
}

/// What a run printed and how it ended.
#[derive(Clone, Debug)]
pub struct ScimTesterReport {
    /// The command run (without the bearer token).
    pub command: String,
    /// The exit status: 0 when every check passed (`scim2 test` wants every
    /// one SUCCESS; [`run_scim_tester_tags`] accepts SKIPPED ones too).
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub checks: Vec<ScimCheck>,
}

impl ScimTesterReport {
    /// The run ended with exit status 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// The checks with this status.
    pub fn with_status(&self, status: CheckStatus) -> Vec<&ScimCheck> {
        self.checks.iter().filter(|c| c.status == status).collect()
    }

    /// The Deviation, Error and Critical results.
    pub fn failures(&self) -> Vec<&ScimCheck> {
        self.checks.iter().filter(|c| c.status.is_failure()).collect()
    }

    /// The Skipped results.
    pub fn skipped(&self) -> Vec<&ScimCheck> {
        self.with_status(CheckStatus::Skipped)
    }

    /// The distinct names of the checks that ran, in order of first appearance.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for c in &self.checks {
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
            }
        }
        names
    }

    /// Panics, printing the whole report, unless the run succeeded with at
    /// least one check and no failure.
    pub fn assert_passed(&self) {
        assert!(
            self.success() && !self.checks.is_empty() && self.failures().is_empty(),
            "the SCIM conformance checker failed:\n{self}"
        );
    }
}

impl fmt::Display for ScimTesterReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        writeln!(
            f,
            "`{}` exited with {:?}: {} checks, {} passed, {} failed, {} skipped",
            self.command,
            self.exit_code,
            self.checks.len(),
            self.checks.iter().filter(|c| c.status.is_pass()).count(),
            self.failures().len(),
            count(CheckStatus::Skipped)
        )?;
        for c in self.checks.iter().filter(|c| !c.status.is_pass()) {
            writeln!(
                f,
                "  {:?} {}{}: {}",
                c.status,
                c.name,
                c.resource_type.as_deref().map(|t| format!(" [{t}]")).unwrap_or_default(),
                c.reason.as_deref().unwrap_or("")
            )?;
        }
        writeln!(f, "stdout:\n{}", self.stdout.trim_end())?;
        write!(f, "stderr:\n{}", self.stderr.trim_end())
    }
}

/// Runs `scim2 --url BASE_URL test` (scim2-cli, next to the interpreter
/// [`crate::smtp::python`]; the `Authorization: Bearer` header goes through
/// `SCIM_CLI_HEADERS`, not the command line) and parses its report. Panics
/// only when the command cannot run or exceeds 5 minutes; a failing server
/// is a report with a non-zero exit code (see [`ScimTesterReport::assert_passed`]).
pub async fn run_scim_tester(base_url: &str, bearer: &str) -> ScimTesterReport {
    let python = crate::smtp::python();
    let script = python.parent().map(|d| d.join("scim2")).filter(|p| p.is_file());
    let (mut cmd, shown) = match &script {
        Some(scim2) => (Command::new(scim2), scim2.display().to_string()),
        None => {
            let mut cmd = Command::new(&python);
            cmd.args(["-c", "import sys; from scim2_cli import cli; sys.exit(cli(prog_name='scim2'))"]);
            (cmd, format!("{} -c 'from scim2_cli import cli; cli()'", python.display()))
        }
    };
    cmd.args(["--url", base_url, "test"]);
    if !bearer.is_empty() {
        cmd.env("SCIM_CLI_HEADERS", format!("Authorization: Bearer {bearer}"));
    }
    let command = format!("{shown} --url {base_url} test");
    let (exit_code, stdout, stderr) = run(cmd, &command, &python).await;
    let checks = parse_cli_output(&stdout);
    ScimTesterReport { command, exit_code, stdout, stderr, checks }
}

/// Runs scim2-tester's `check_server` through the library with tag filters
/// (scim2-cli has no option for them): `include` runs only checks with one
/// of these tags, `exclude` skips those with one (empty: no filter). The
/// tags: `discovery`, `service-provider-config`, `resource-types`,
/// `schemas`, `misc`, `crud` (`crud:create`, `crud:read`,
/// `crud:read:attributes`, `crud:update`, `crud:delete`), `patch`
/// (`patch:add`, `patch:remove`, `patch:replace`). Filtered-out checks are
/// reported SKIPPED; the exit code is 0 unless a result is neither a pass
/// nor SKIPPED.
pub async fn run_scim_tester_tags(
    base_url: &str,
    bearer: &str,
    include: &[&str],
    exclude: &[&str],
) -> ScimTesterReport {
    let python = crate::smtp::python();
    let mut cmd = Command::new(&python);
    cmd.args(["-c", TAGS_SCRIPT])
        .env("GUILDHALL_SCIM_URL", base_url)
        .env("GUILDHALL_SCIM_INCLUDE", include.join(","))
        .env("GUILDHALL_SCIM_EXCLUDE", exclude.join(","));
    if !bearer.is_empty() {
        cmd.env("GUILDHALL_SCIM_AUTHORIZATION", format!("Bearer {bearer}"));
    }
    let command = format!(
        "{} -c <scim2_tester.check_server> {base_url} include={include:?} exclude={exclude:?}",
        python.display()
    );
    let (exit_code, stdout, stderr) = run(cmd, &command, &python).await;
    let checks = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("`{command}` printed a line that is not JSON ({e}): {l}"));
            let text = |k: &str| v[k].as_str().map(str::to_owned);
            ScimCheck {
                status: text("status")
                    .as_deref()
                    .and_then(CheckStatus::parse)
                    .unwrap_or_else(|| panic!("`{command}`: unknown status in {l}")),
                name: text("title").unwrap_or_default(),
                reason: text("reason"),
                resource_type: text("resource_type"),
            }
        })
        .collect();
    ScimTesterReport { command, exit_code, stdout, stderr, checks }
}

/// Prints one JSON object per result; exit status 1 when a result is
/// neither a pass nor SKIPPED.
const TAGS_SCRIPT: &str = r#"
import json, os, sys
from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

def tags(name):
    return {t for t in os.environ.get(name, "").split(",") if t} or None

headers = {}
if os.environ.get("GUILDHALL_SCIM_AUTHORIZATION"):
    headers["Authorization"] = os.environ["GUILDHALL_SCIM_AUTHORIZATION"]
client = SyncSCIMClient(Client(base_url=os.environ["GUILDHALL_SCIM_URL"], headers=headers))
results = check_server(client, include_tags=tags("GUILDHALL_SCIM_INCLUDE"), exclude_tags=tags("GUILDHALL_SCIM_EXCLUDE"))
ok = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE, Status.SKIPPED}
for r in results:
    print(json.dumps({"status": r.status.name, "title": r.title, "reason": r.reason,
                      "resource_type": r.resource_type, "tags": sorted(r.tags)}))
sys.exit(0 if results and all(r.status in ok for r in results) else 1)
"#;

async fn run(mut cmd: Command, command: &str, python: &Path) -> (Option<i32>, String, String) {
    for var in ["SCIM_CLI_URL", "SCIM_CLI_SCHEMAS", "SCIM_CLI_RESOURCE_TYPES", "SCIM_CLI_SERVICE_PROVIDER_CONFIG"] {
        cmd.env_remove(var);
    }
    cmd.env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(RUN_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("`{command}` did not finish within {RUN_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("cannot run `{command}` (interpreter {}): {e}. {HINT}", python.display()));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if stderr.contains("ModuleNotFoundError") {
        panic!("`{command}`: scim2-cli/scim2-tester is not installed. {HINT}\nstderr:\n{}", stderr.trim_end());
    }
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

/// Parses `scim2 test`: after a "Performing a SCIM compliance check" line,
/// one `STATUS check_name` line per result, followed by its reason indented
/// by two spaces (a reason may continue on unindented lines).
fn parse_cli_output(stdout: &str) -> Vec<ScimCheck> {
    let mut checks: Vec<ScimCheck> = Vec::new();
    for line in stdout.lines() {
        let head = line.split_once(' ').and_then(|(status, name)| {
            let name = name.trim();
            let plain = !name.is_empty() && !name.contains(char::is_whitespace);
            CheckStatus::parse(status).filter(|_| plain).map(|s| (s, name))
        });
        if let Some((status, name)) = head {
            checks.push(ScimCheck { status, name: name.to_owned(), reason: None, resource_type: None });
        } else if let Some(last) = checks.last_mut() {
            let text = line.strip_prefix("  ").unwrap_or(line);
            match &mut last.reason {
                Some(reason) => {
                    reason.push('\n');
                    reason.push_str(text);
                }
                None => last.reason = Some(text.to_owned()),
            }
        }
    }
    checks
}

const HINT: &str = "It needs Python 3.11+ with scim2-cli: run `scripts/test` (creates .venv-test), or \
     `.venv-test/bin/pip install -r scripts/test-requirements.txt`, or set GUILDHALL_TEST_PYTHON to an \
     interpreter that has it.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim_peer::ScimPeer;

    #[test]
    fn the_cli_report_is_parsed() {
        let out = "Performing a SCIM compliance check on http://x/v2/ ...\n\
                   SUCCESS service_provider_config_endpoint\n\
                   SUCCESS service_provider_config_endpoint_methods\n  POST /ServiceProviderConfig correctly returned 405\n\
                   ERROR check_add_attribute\n  PATCH modify() returned unexpected value for 'name'.\nPatched value: 1\nReturned value: 2\n\
                   SKIPPED check_remove_attribute\n  PATCH operations not supported by server\n";
        let checks = parse_cli_output(out);
        assert_eq!(checks.len(), 4);
        assert_eq!(
            checks[0],
            ScimCheck {
                status: CheckStatus::Success,
                name: "service_provider_config_endpoint".into(),
                reason: None,
                resource_type: None
            }
        );
        assert_eq!(checks[1].reason.as_deref(), Some("POST /ServiceProviderConfig correctly returned 405"));
        assert_eq!(checks[2].status, CheckStatus::Error);
        assert_eq!(
            checks[2].reason.as_deref(),
            Some("PATCH modify() returned unexpected value for 'name'.\nPatched value: 1\nReturned value: 2")
        );
        assert_eq!(checks[3].status, CheckStatus::Skipped);
    }

    #[tokio::test]
    async fn scim2_server_passes_the_whole_check() {
        let peer = ScimPeer::start().await;
        let report = run_scim_tester(&peer.base_url(), peer.bearer_token()).await;
        report.assert_passed();
        assert!(report.skipped().is_empty(), "{report}");
        for name in [
            "service_provider_config_endpoint",
            "service_provider_config_endpoint_methods",
            "query_all_resource_types",
            "query_resource_type_by_id",
            "resource_types_schema_validation",
            "access_invalid_resource_type",
            "resource_types_endpoint_methods",
            "query_all_schemas",
            "access_schema_by_id",
            "access_invalid_schema",
            "schemas_endpoint_methods",
            "random_url",
            "object_creation",
            "object_query",
            "object_query_without_id",
            "object_query_with_attributes",
            "object_list_with_attributes",
            "search_with_attributes",
            "object_replacement",
            "object_deletion",
            "check_add_attribute",
            "check_remove_attribute",
            "check_replace_attribute",
        ] {
            assert!(report.names().contains(&name), "no {name} check in:\n{report}");
        }
        // the checks clean up after themselves
        assert!(peer.users().await.is_empty());
        assert!(peer.groups().await.is_empty());
    }

    #[tokio::test]
    async fn a_wrong_token_fails_discovery() {
        let peer = ScimPeer::start().await;
        let report = run_scim_tester(&peer.base_url(), "not-the-token").await;
        assert!(!report.success(), "{report}");
        assert!(report.checks.is_empty(), "{report}");
        assert!(report.stderr.contains("Could not discover the server"), "{report}");
    }

    #[tokio::test]
    async fn discovery_checks_alone_write_nothing() {
        let peer = ScimPeer::start().await;
        let report = run_scim_tester_tags(&peer.base_url(), peer.bearer_token(), &["discovery", "misc"], &[]).await;
        report.assert_passed();
        let names = report.names();
        assert!(names.contains(&"random_url") && names.contains(&"query_all_schemas"), "{report}");
        let skipped: Vec<&str> = report.skipped().iter().map(|c| c.name.as_str()).collect();
        assert!(skipped.contains(&"object_creation") && skipped.contains(&"check_add_attribute"), "{report}");
        assert!(report.skipped().iter().all(|c| c.resource_type.is_some()), "{report}");
        assert!(
            report.with_status(CheckStatus::Success).iter().all(|c| c.resource_type.is_none()),
            "only discovery and misc checks ran:\n{report}"
        );
        assert!(peer.users().await.is_empty());
    }
}
