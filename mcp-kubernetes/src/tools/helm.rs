//! Helm releases. Reads (`helm_list`, `helm_status`, `helm_history`, `helm_values`)
//! decode Helm 3's release records from the cluster itself (Secrets labelled
//! `owner=helm`, holding base64 of gzipped JSON), so they need no `helm` binary.
//! Changes (`helm_install`, `helm_upgrade`, `helm_rollback`, `helm_uninstall`) run the
//! `helm` binary when it is installed.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use serde_json::{Value, json};

use super::api::{check_name, tool_args};
use crate::clusters::{Clusters, Connection, check_namespace, namespace_scope};
use crate::config::Toolset;
use crate::errors::{Op, api_error};
use crate::output::{Rendered, clip, cut_text, document, table};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Helm.name(),
        [
            tool_with("helm_list", k, helm_list)
                .title("List Helm releases")
                .description("Helm releases (latest revision of each): name, namespace, revision, status, chart, app version, updated. Read from the cluster; no helm binary needed.")
                .read_only(),
            tool_with("helm_status", k, helm_status)
                .title("Helm release status")
                .description("A release's status, chart, dates, description, notes and the objects its manifest holds.")
                .read_only(),
            tool_with("helm_history", k, helm_history)
                .title("Helm release history")
                .description("Every stored revision of a release: status, chart, app version, when and why.")
                .read_only(),
            tool_with("helm_values", k, helm_values)
                .title("Helm release values")
                .description(
                    "The values a release was installed with (all=true: merged with the chart's defaults), as YAML. \
                     Values under secret-looking keys are masked unless the server allows secrets.",
                )
                .read_only(),
            tool_with("helm_install", k, helm_install)
                .title("Install a Helm chart")
                .description("Installs a chart as a release (runs `helm install`; needs the helm binary). dry_run=true renders and validates without installing.")
                .sensitive(["values"])
                .additive(),
            tool_with("helm_upgrade", k, helm_upgrade)
                .title("Upgrade a Helm release")
                .description("Upgrades a release to a chart version and/or values (runs `helm upgrade`; needs the helm binary). dry_run=true first.")
                .sensitive(["values"]),
            tool_with("helm_rollback", k, helm_rollback)
                .title("Roll back a Helm release")
                .description("Rolls a release back to a revision (default: the previous one; runs `helm rollback`).")
                .destructive(),
            tool_with("helm_uninstall", k, helm_uninstall)
                .title("Uninstall a Helm release")
                .description("Uninstalls a release and deletes its objects (runs `helm uninstall`).")
                .destructive(),
        ],
    )
}

/// Decodes one release record: the Secret's `release` value is base64 of gzip of JSON
/// (the Secret's own base64 is already undone by the client).
pub fn decode_release(data: &[u8]) -> Result<Value, String> {
    let text: Vec<u8> = data.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    let raw = base64::engine::general_purpose::STANDARD.decode(&text).map_err(|e| format!("not base64: {e}"))?;
    let json = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        // Bounded: a release record is at most 1 MiB compressed (the Secret limit).
        flate2::read::GzDecoder::new(&raw[..])
            .take(64 << 20)
            .read_to_end(&mut out)
            .map_err(|e| format!("bad gzip: {e}"))?;
        out
    } else {
        raw
    };
    serde_json::from_slice(&json).map_err(|e| format!("not JSON: {e}"))
}

/// Release records in `namespace` (all when `None`), optionally of one release.
async fn records(
    k: &Clusters,
    cluster: &Connection,
    namespace: Option<&str>,
    release: Option<&str>,
) -> Result<Vec<Value>, ToolError> {
    let secrets = cluster.discovery.resolve(&cluster.client, &cluster.name, "secrets", Some("v1")).await?;
    // Release records are Secrets: a server that denies Secrets denies these too.
    super::api::check_kind(k, &secrets)?;
    let api: Api<Secret> = match namespace {
        Some(ns) => Api::namespaced(cluster.client.clone(), ns),
        None => Api::all(cluster.client.clone()),
    };
    let mut selector = "owner=helm".to_string();
    if let Some(r) = release {
        selector += &format!(",name={r}");
    }
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| api_error(e, &Op::new("list", "secrets").namespace(namespace).context(&cluster.name)))?;
    let mut out = vec![];
    for s in list.items {
        let Some(data) = s.data.as_ref().and_then(|d| d.get("release")) else { continue };
        match decode_release(&data.0) {
            Ok(v) => out.push(v),
            Err(e) => tracing::warn!(
                secret = s.metadata.name.as_deref().unwrap_or(""),
                "undecodable Helm release record: {e}"
            ),
        }
    }
    out.sort_by(|a, b| {
        (a["namespace"].as_str(), a["name"].as_str(), a["version"].as_i64()).cmp(&(
            b["namespace"].as_str(),
            b["name"].as_str(),
            b["version"].as_i64(),
        ))
    });
    Ok(out)
}

fn chart_of(r: &Value) -> String {
    format!(
        "{}-{}",
        r.pointer("/chart/metadata/name").and_then(Value::as_str).unwrap_or("?"),
        r.pointer("/chart/metadata/version").and_then(Value::as_str).unwrap_or("?")
    )
}

fn summary(r: &Value) -> Value {
    json!({
        "name": r["name"], "namespace": r["namespace"], "revision": r["version"],
        "status": r.pointer("/info/status"), "chart": chart_of(r),
        "appVersion": r.pointer("/chart/metadata/appVersion"),
        "updated": r.pointer("/info/last_deployed"), "description": r.pointer("/info/description"),
    })
}

tool_args! {
pub struct ListArgs {
    /// Namespace (default: the context's).
    pub namespace: Option<String>,
    /// Releases of every (allowed) namespace.
    #[serde(default)]
    pub all_namespaces: bool,
}
}

fn namespaces(
    k: &Clusters,
    ctx: &Context,
    cluster: &Connection,
    namespace: Option<&str>,
    all: bool,
) -> Result<Vec<Option<String>>, ToolError> {
    let scope = namespace_scope(&k.settings, ctx);
    if all {
        return Ok(match scope {
            Some(allowed) => allowed.into_iter().map(Some).collect(),
            None => vec![None],
        });
    }
    let ns = namespace.filter(|n| !n.is_empty()).unwrap_or(&cluster.default_namespace).to_string();
    super::api::check_ns_name(&ns)?;
    check_namespace(&scope, &ns)?;
    Ok(vec![Some(ns)])
}

async fn helm_list(k: Arc<Clusters>, ctx: Context, args: ListArgs) -> Result<Rendered<Value>, ToolError> {
    let cluster = k.read(&ctx, args.context.as_deref()).await?;
    let mut latest: BTreeMap<(String, String), Value> = BTreeMap::new();
    for ns in namespaces(&k, &ctx, &cluster, args.namespace.as_deref(), args.all_namespaces)? {
        for r in records(&k, &cluster, ns.as_deref(), None).await? {
            let key = (r["namespace"].as_str().unwrap_or("").to_string(), r["name"].as_str().unwrap_or("").to_string());
            if latest.get(&key).is_none_or(|old| old["version"].as_i64() < r["version"].as_i64()) {
                latest.insert(key, r);
            }
        }
    }
    let items: Vec<Value> = latest.values().take(k.settings.max_rows).map(summary).collect();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|s| {
            ["name", "namespace", "revision", "status", "chart", "appVersion", "updated"]
                .iter()
                .map(|f| match &s[*f] {
                    Value::String(v) => v.clone(),
                    Value::Null => String::new(),
                    v => v.to_string(),
                })
                .collect()
        })
        .collect();
    let text = if rows.is_empty() {
        "No Helm releases found.\n".into()
    } else {
        table(&["NAME", "NAMESPACE", "REVISION", "STATUS", "CHART", "APP VERSION", "UPDATED"], &rows)
    };
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "releases": items, "truncated": latest.len() > k.settings.max_rows}),
    })
}

tool_args! {
pub struct ReleaseArgs {
    /// The release name.
    pub release: String,
    /// Namespace (default: the context's).
    pub namespace: Option<String>,
    /// A revision (default: the latest).
    pub revision: Option<i64>,
    /// helm_values: merge with the chart's default values.
    #[serde(default)]
    pub all: bool,
}
}

async fn release(k: &Clusters, ctx: &Context, args: &ReleaseArgs) -> Result<(Arc<Connection>, Vec<Value>), ToolError> {
    check_name(&args.release)?;
    let cluster = k.read(ctx, args.context.as_deref()).await?;
    let ns = namespaces(k, ctx, &cluster, args.namespace.as_deref(), false)?.pop().flatten();
    let recs = records(k, &cluster, ns.as_deref(), Some(&args.release)).await?;
    if recs.is_empty() {
        return Err(ToolError::not_found(format!(
            "release `{}` not found in namespace `{}` (helm_list shows the releases)",
            args.release,
            ns.unwrap_or_default()
        )));
    }
    Ok((cluster, recs))
}

fn pick(recs: &[Value], revision: Option<i64>) -> Result<&Value, ToolError> {
    match revision {
        Some(rev) => recs
            .iter()
            .find(|r| r["version"].as_i64() == Some(rev))
            .ok_or_else(|| ToolError::not_found(format!("revision {rev} not found (helm_history lists them)"))),
        None => recs.last().ok_or_else(|| ToolError::failed("no revision")),
    }
}

async fn helm_status(k: Arc<Clusters>, ctx: Context, args: ReleaseArgs) -> Result<Rendered<Value>, ToolError> {
    let (cluster, recs) = release(&k, &ctx, &args).await?;
    let r = pick(&recs, args.revision)?;
    let objects: Vec<String> = r["manifest"]
        .as_str()
        .unwrap_or("")
        .split("\n---")
        .filter_map(|doc| serde_yaml_ng::from_str::<Value>(doc).ok())
        .filter(|d| d.is_object())
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap_or("?"),
                d.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?")
            )
        })
        .collect();
    let notes = r.pointer("/info/notes").and_then(Value::as_str).unwrap_or("");
    let mut text = format!(
        "NAME: {}\nNAMESPACE: {}\nREVISION: {}\nSTATUS: {}\nCHART: {} (app {})\nFIRST DEPLOYED: {}\nLAST DEPLOYED: {}\nDESCRIPTION: {}\n",
        r["name"].as_str().unwrap_or("?"),
        r["namespace"].as_str().unwrap_or("?"),
        r["version"],
        r.pointer("/info/status").and_then(Value::as_str).unwrap_or("?"),
        chart_of(r),
        r.pointer("/chart/metadata/appVersion").and_then(Value::as_str).unwrap_or("?"),
        r.pointer("/info/first_deployed").and_then(Value::as_str).unwrap_or("?"),
        r.pointer("/info/last_deployed").and_then(Value::as_str).unwrap_or("?"),
        r.pointer("/info/description").and_then(Value::as_str).unwrap_or(""),
    );
    text += &format!("RESOURCES ({}): {}\n", objects.len(), clip(&objects.join(", "), 4000));
    if !notes.is_empty() {
        text += &format!("NOTES:\n{}\n", clip(notes, 4000));
    }
    let (text, _) = cut_text(text, k.settings.max_result_bytes, "use helm_values and resources_get for the details");
    let mut data = summary(r);
    data["context"] = json!(cluster.name);
    data["resources"] = json!(objects);
    data["notes"] = json!(clip(notes, 4000));
    Ok(Rendered { text, data })
}

async fn helm_history(k: Arc<Clusters>, ctx: Context, args: ReleaseArgs) -> Result<Rendered<Value>, ToolError> {
    let (cluster, recs) = release(&k, &ctx, &args).await?;
    let items: Vec<Value> = recs.iter().rev().take(k.settings.max_rows).rev().map(summary).collect();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|s| {
            vec![
                s["revision"].to_string(),
                s["updated"].as_str().unwrap_or("").into(),
                s["status"].as_str().unwrap_or("").into(),
                s["chart"].as_str().unwrap_or("").into(),
                s["appVersion"].as_str().unwrap_or("").into(),
                clip(s["description"].as_str().unwrap_or(""), 100),
            ]
        })
        .collect();
    let text = table(&["REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"], &rows);
    Ok(Rendered { text, data: json!({"context": cluster.name, "release": args.release, "revisions": items}) })
}

/// `over` merged onto `base` (maps recursively; anything else replaced), as Helm does.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (key, v) in o {
                match b.get_mut(key) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(key.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

async fn helm_values(k: Arc<Clusters>, ctx: Context, args: ReleaseArgs) -> Result<Rendered<Value>, ToolError> {
    let (cluster, recs) = release(&k, &ctx, &args).await?;
    let r = pick(&recs, args.revision)?;
    let user = r.get("config").cloned().filter(|c| !c.is_null()).unwrap_or_else(|| json!({}));
    let mut values = if args.all {
        let mut base = r.pointer("/chart/values").cloned().unwrap_or_else(|| json!({}));
        merge(&mut base, &user);
        base
    } else {
        user
    };
    k.masker.mask_values(&mut values);
    let (text, _) = cut_text(
        document(&values, false),
        k.settings.max_result_bytes,
        "set all=false to see only the user-supplied values",
    );
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "release": args.release, "revision": r["version"], "values": values}),
    })
}

/// Refuses a value that helm would read as a flag.
fn plain(what: &str, v: &str) -> Result<(), ToolError> {
    if v.is_empty() || v.starts_with('-') || v.len() > 1024 || v.chars().any(|c| c.is_control()) {
        return Err(ToolError::invalid_arguments(format!(
            "`{what}`: `{}` is not acceptable (empty, a flag, or too long)",
            clip(v, 60)
        )));
    }
    Ok(())
}

/// Runs helm with the call's context and namespace, bounded in time and output.
async fn run_helm(
    k: &Clusters,
    cluster: &Connection,
    namespace: &str,
    mut args: Vec<String>,
    values: Option<&str>,
) -> Result<Rendered<Value>, ToolError> {
    let binary = &k.settings.helm_binary;
    let found = if binary.components().count() > 1 {
        binary.is_file()
    } else {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(binary).is_file()))
    };
    if !found {
        return Err(ToolError::unavailable(format!(
            "the `{}` binary is not installed (or not on PATH): install Helm 3 (or set --helm-binary) to install, upgrade, roll back or uninstall releases. \
             helm_list, helm_status, helm_history and helm_values work without it",
            binary.display()
        )));
    }
    let values_file = match values {
        Some(v) => {
            let parsed: Value = serde_yaml_ng::from_str(v)
                .map_err(|e| ToolError::invalid_arguments(format!("`values` is not valid YAML: {e}")))?;
            if !parsed.is_object() {
                return Err(ToolError::invalid_arguments("`values` must be a YAML mapping"));
            }
            let file = std::env::temp_dir().join(format!("mcp-kubernetes-values-{}.yaml", rand::random::<u64>()));
            std::fs::write(&file, v).map_err(|e| ToolError::failed(format!("cannot write the values file: {e}")))?;
            args.push("--values".into());
            args.push(file.display().to_string());
            Some(file)
        }
        None => None,
    };
    args.extend(["--namespace".into(), namespace.into()]);
    if !k.in_cluster() {
        args.extend(["--kube-context".into(), cluster.name.clone()]);
        if let Some(path) = k.kubeconfig_path() {
            args.extend(["--kubeconfig".into(), path.display().to_string()]);
        }
    }
    // Helm acts as the caller too (`--impersonate`).
    if let Some(caller) = &cluster.caller {
        args.extend(["--kube-as-user".into(), caller.user.clone()]);
        for g in &caller.groups {
            args.extend(["--kube-as-group".into(), g.clone()]);
        }
    }
    let mut cmd = tokio::process::Command::new(binary);
    cmd.args(&args).stdin(std::process::Stdio::null()).kill_on_drop(true);
    let timeout = Duration::from_secs(300).min(k.settings.request_timeout * 10);
    let output = tokio::time::timeout(timeout, cmd.output()).await;
    if let Some(f) = values_file {
        let _ = std::fs::remove_file(f);
    }
    let output = output
        .map_err(|_| ToolError::timed_out(format!("helm did not finish within {}s", timeout.as_secs())))?
        .map_err(|e| ToolError::failed(format!("cannot run {}: {e}", binary.display())))?;
    let max = k.settings.max_result_bytes;
    let stdout = clip(&String::from_utf8_lossy(&output.stdout), max);
    let stderr = clip(&String::from_utf8_lossy(&output.stderr), max / 4);
    if !output.status.success() {
        return Err(ToolError::failed(format!(
            "helm {} failed ({}): {}{}",
            args.first().map(String::as_str).unwrap_or(""),
            output.status,
            stderr.trim(),
            if stdout.is_empty() { String::new() } else { format!("\n{stdout}") }
        )));
    }
    let text = if stderr.trim().is_empty() { stdout.clone() } else { format!("{stdout}\n{stderr}") };
    Ok(Rendered {
        text,
        data: json!({"context": cluster.name, "namespace": namespace, "command": args.first(), "output": stdout}),
    })
}

tool_args! {
pub struct InstallArgs {
    /// The release name.
    pub release: String,
    /// The chart: `repo/name`, an `oci://` reference or a chart URL.
    pub chart: String,
    pub namespace: Option<String>,
    /// The chart version (default: the latest).
    pub version: Option<String>,
    /// The chart repository URL, when `chart` is a bare name.
    pub repo: Option<String>,
    /// Values as YAML.
    pub values: Option<String>,
    /// Render and validate against the cluster without installing.
    #[serde(default)]
    pub dry_run: bool,
    /// helm_upgrade: install when the release does not exist.
    #[serde(default)]
    pub install: bool,
    /// helm_upgrade: keep the release's values and merge `values` over them.
    #[serde(default)]
    pub reuse_values: bool,
}
}

async fn install_or_upgrade(
    k: &Clusters,
    ctx: &Context,
    args: InstallArgs,
    upgrade: bool,
) -> Result<Rendered<Value>, ToolError> {
    check_name(&args.release)?;
    plain("chart", &args.chart)?;
    let cluster = k.write(ctx, args.context.as_deref()).await?;
    let ns = namespaces(k, ctx, &cluster, args.namespace.as_deref(), false)?.pop().flatten().unwrap_or_default();
    let mut cmd: Vec<String> =
        vec![if upgrade { "upgrade" } else { "install" }.into(), args.release.clone(), args.chart.clone()];
    if let Some(v) = &args.version {
        plain("version", v)?;
        cmd.extend(["--version".into(), v.clone()]);
    }
    if let Some(r) = &args.repo {
        plain("repo", r)?;
        cmd.extend(["--repo".into(), r.clone()]);
    }
    if args.dry_run {
        cmd.push("--dry-run=server".into());
    }
    if upgrade && args.install {
        cmd.push("--install".into());
    }
    if upgrade && args.reuse_values {
        cmd.push("--reuse-values".into());
    }
    run_helm(k, &cluster, &ns, cmd, args.values.as_deref()).await
}

async fn helm_install(k: Arc<Clusters>, ctx: Context, args: InstallArgs) -> Result<Rendered<Value>, ToolError> {
    install_or_upgrade(&k, &ctx, args, false).await
}

async fn helm_upgrade(k: Arc<Clusters>, ctx: Context, args: InstallArgs) -> Result<Rendered<Value>, ToolError> {
    install_or_upgrade(&k, &ctx, args, true).await
}

tool_args! {
pub struct ChangeArgs {
    pub release: String,
    pub namespace: Option<String>,
    /// helm_rollback: the revision to return to (default: the previous one).
    pub revision: Option<i64>,
    /// Simulate without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}
}

async fn helm_rollback(k: Arc<Clusters>, ctx: Context, args: ChangeArgs) -> Result<Rendered<Value>, ToolError> {
    check_name(&args.release)?;
    let cluster = k.write(&ctx, args.context.as_deref()).await?;
    let ns = namespaces(&k, &ctx, &cluster, args.namespace.as_deref(), false)?.pop().flatten().unwrap_or_default();
    let mut cmd = vec!["rollback".to_string(), args.release.clone()];
    if let Some(r) = args.revision {
        if r < 1 {
            return Err(ToolError::invalid_arguments("`revision` starts at 1"));
        }
        cmd.push(r.to_string());
    }
    if args.dry_run {
        cmd.push("--dry-run".into());
    }
    run_helm(&k, &cluster, &ns, cmd, None).await
}

async fn helm_uninstall(k: Arc<Clusters>, ctx: Context, args: ChangeArgs) -> Result<Rendered<Value>, ToolError> {
    check_name(&args.release)?;
    let cluster = k.write(&ctx, args.context.as_deref()).await?;
    let ns = namespaces(&k, &ctx, &cluster, args.namespace.as_deref(), false)?.pop().flatten().unwrap_or_default();
    let mut cmd = vec!["uninstall".to_string(), args.release.clone()];
    if args.dry_run {
        cmd.push("--dry-run".into());
    }
    run_helm(&k, &cluster, &ns, cmd, None).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn release_records_decode_and_values_merge() {
        let release = json!({"name": "web", "version": 2, "config": {"replicas": 3}});
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(release.to_string().as_bytes()).expect("gzip");
        let encoded = base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("gzip"));
        assert_eq!(decode_release(encoded.as_bytes()).expect("decode"), release);
        assert!(decode_release(b"!!!").is_err());
        let mut base = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge(&mut base, &json!({"a": {"b": 5}, "d": [2]}));
        assert_eq!(base, json!({"a": {"b": 5, "c": 2}, "d": [2]}));
    }
}
