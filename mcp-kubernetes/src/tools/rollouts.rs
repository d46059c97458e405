//! Workloads: `workload_scale`, and rollouts (`rollout_status`, `rollout_restart`,
//! `rollout_history`, `rollout_undo`) of Deployments, StatefulSets and DaemonSets.

use std::sync::Arc;
use std::time::Duration;

use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use serde_json::{Value, json};

use super::api::{check_name, dyn_api, namespace_for, object_ref, target, tool_args};
use super::apply::FIELD_MANAGER;
use crate::clusters::{Access, Clusters, Connection};
use crate::config::Toolset;
use crate::discovery::Resource;
use crate::errors::{Op, api_error};
use crate::output::{Rendered, clip, table};

pub fn register(builder: ServerBuilder, k: &Arc<Clusters>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Workloads.name(),
        [
            tool_with("workload_scale", k, workload_scale)
                .title("Scale a workload")
                .description("Sets the replicas of a Deployment, StatefulSet, ReplicaSet or any kind with a scale subresource.")
                .idempotent(),
            tool_with("rollout_status", k, rollout_status)
                .title("Rollout status")
                .description(
                    "Whether a Deployment, StatefulSet or DaemonSet finished rolling out, as kubectl rollout status says \
                     it; wait_seconds waits (bounded) for it to finish.",
                )
                .read_only(),
            tool_with("rollout_history", k, rollout_history)
                .title("Rollout history")
                .description("The revisions of a Deployment (its ReplicaSets), StatefulSet or DaemonSet (ControllerRevisions), with images and change causes.")
                .read_only(),
            tool_with("rollout_restart", k, rollout_restart)
                .title("Restart a rollout")
                .description("Restarts every pod of a Deployment, StatefulSet or DaemonSet by a rolling update (kubectl rollout restart).")
                .idempotent(),
            tool_with("rollout_undo", k, rollout_undo)
                .title("Undo a rollout")
                .description(
                    "Rolls a Deployment, StatefulSet or DaemonSet back to a previous revision (default: the one before \
                     the current); rollout_history lists them.",
                )
                .destructive(),
        ],
    )
}

tool_args! {
pub struct ScaleArgs {
    /// deployments, statefulsets, replicasets, or any kind with a scale subresource.
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub replicas: u32,
    #[serde(default)]
    pub dry_run: bool,
}
}

async fn workload_scale(k: Arc<Clusters>, ctx: Context, args: ScaleArgs) -> Result<Rendered<Value>, ToolError> {
    check_name(&args.name)?;
    if args.replicas > 10_000 {
        return Err(ToolError::invalid_arguments("`replicas` above 10000 is surely a mistake"));
    }
    let (cluster, res) = target(&k, &ctx, args.context.as_deref(), Access::Write, &args.kind, None, "get").await?;
    if !res.scalable {
        return Err(ToolError::invalid_arguments(format!(
            "{} has no scale subresource: it cannot be scaled",
            res.qualified()
        )));
    }
    let ns = namespace_for(&k, &ctx, &cluster, &res, args.namespace.as_deref(), true)?;
    let api = dyn_api(&cluster, &res, ns.as_deref());
    let op = Op::new("patch", &format!("{}/scale", res.qualified()))
        .name(&args.name)
        .namespace(ns.as_deref())
        .context(&cluster.name);
    let before = api.get_scale(&args.name).await.map_err(|e| api_error(e, &op))?;
    let previous = before.spec.and_then(|s| s.replicas).unwrap_or(0);
    let params = PatchParams { dry_run: args.dry_run, field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    api.patch_scale(&args.name, &params, &Patch::Merge(json!({"spec": {"replicas": args.replicas}})))
        .await
        .map_err(|e| api_error(e, &op))?;
    let line = format!(" scaled from {previous} to {} replicas{}", args.replicas, changed(args.dry_run, FOLLOW));
    let extra = json!({"previousReplicas": previous, "replicas": args.replicas, "dryRun": args.dry_run});
    Ok(outcome(&cluster, &res, &args.name, ns.as_deref(), &line, extra))
}

tool_args! {
pub struct RolloutArgs {
    /// deployment, statefulset or daemonset.
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    /// rollout_status: wait up to this many seconds for the rollout to finish (default 0).
    /// rollout_undo: ignored.
    pub wait_seconds: Option<u64>,
    /// rollout_undo: the revision to return to (default: the previous one).
    pub to_revision: Option<i64>,
    /// rollout_restart and rollout_undo: validate on the server without changing.
    #[serde(default)]
    pub dry_run: bool,
}
}

async fn rollout_target(
    k: &Clusters,
    ctx: &Context,
    args: &RolloutArgs,
    write: bool,
) -> Result<(Arc<Connection>, Resource, Option<String>, Api<kube::core::DynamicObject>), ToolError> {
    check_name(&args.name)?;
    let access = if write { Access::Write } else { Access::Read };
    let (cluster, res) = target(k, ctx, args.context.as_deref(), access, &args.kind, None, "get").await?;
    if res.group != "apps" || !matches!(res.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet") {
        return Err(ToolError::invalid_arguments(format!(
            "rollouts apply to deployments, statefulsets and daemonsets, not {}",
            res.qualified()
        )));
    }
    let ns = namespace_for(k, ctx, &cluster, &res, args.namespace.as_deref(), write)?;
    let api = dyn_api(&cluster, &res, ns.as_deref());
    Ok((cluster, res, ns, api))
}

/// Whether a rollout is done, and what it is waiting for (kubectl's rules).
pub fn rollout_state(kind: &str, o: &Value) -> (bool, String) {
    let n = |p: &str| o.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let generation = n("/metadata/generation");
    let observed = n("/status/observedGeneration");
    if observed < generation {
        return (false, "waiting for the controller to observe the latest spec".into());
    }
    match kind {
        "Deployment" => {
            if let Some(c) = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|c| c["type"] == "Progressing"))
                && c["reason"] == "ProgressDeadlineExceeded"
            {
                return (false, "the rollout exceeded its progress deadline: see resources_describe and events".into());
            }
            let desired = o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            let (updated, replicas, available) =
                (n("/status/updatedReplicas"), n("/status/replicas"), n("/status/availableReplicas"));
            if updated < desired {
                (false, format!("{updated} of {desired} new replicas have been updated"))
            } else if replicas > updated {
                (false, format!("{} old replicas are pending termination", replicas - updated))
            } else if available < updated {
                (false, format!("{available} of {updated} updated replicas are available"))
            } else {
                (true, "successfully rolled out".into())
            }
        }
        "StatefulSet" => {
            let desired = o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            let (ready, updated) = (n("/status/readyReplicas"), n("/status/updatedReplicas"));
            if ready < desired {
                (false, format!("{ready} of {desired} pods are ready"))
            } else if o.pointer("/spec/updateStrategy/type").and_then(Value::as_str) != Some("OnDelete")
                && o.pointer("/status/updateRevision") != o.pointer("/status/currentRevision")
            {
                (false, format!("{updated} of {desired} pods are at the new revision"))
            } else {
                (
                    true,
                    format!(
                        "rolled out: {ready} pods ready at revision {}",
                        o.pointer("/status/currentRevision").and_then(Value::as_str).unwrap_or("?")
                    ),
                )
            }
        }
        _ => {
            let desired = n("/status/desiredNumberScheduled");
            let (updated, available) = (n("/status/updatedNumberScheduled"), n("/status/numberAvailable"));
            if updated < desired {
                (false, format!("{updated} of {desired} updated pods are scheduled"))
            } else if available < desired {
                (false, format!("{available} of {desired} updated pods are available"))
            } else {
                (true, "successfully rolled out".into())
            }
        }
    }
}

pub(crate) async fn rollout_status(
    k: Arc<Clusters>,
    ctx: Context,
    args: RolloutArgs,
) -> Result<Rendered<Value>, ToolError> {
    let (cluster, res, ns, api) = rollout_target(&k, &ctx, &args, false).await?;
    let op = Op::new("get", &res.qualified()).name(&args.name).namespace(ns.as_deref()).context(&cluster.name);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait_seconds.unwrap_or(0).min(300));
    loop {
        let obj =
            serde_json::to_value(api.get(&args.name).await.map_err(|e| api_error(e, &op))?).unwrap_or(Value::Null);
        let (done, message) = rollout_state(&res.kind, &obj);
        if done || tokio::time::Instant::now() >= deadline {
            let extra = json!({"complete": done, "message": message});
            return Ok(outcome(&cluster, &res, &args.name, ns.as_deref(), &format!(": {message}"), extra));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn rollout_restart(k: Arc<Clusters>, ctx: Context, args: RolloutArgs) -> Result<Rendered<Value>, ToolError> {
    let (cluster, res, ns, api) = rollout_target(&k, &ctx, &args, true).await?;
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let patch =
        json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
    let params = PatchParams { dry_run: args.dry_run, field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    let op = Op::new("patch", &res.qualified()).name(&args.name).namespace(ns.as_deref()).context(&cluster.name);
    api.patch(&args.name, &params, &Patch::Merge(&patch)).await.map_err(|e| api_error(e, &op))?;
    let line = format!(" restarted{}", changed(args.dry_run, FOLLOW));
    let extra = json!({"restartedAt": now, "dryRun": args.dry_run});
    Ok(outcome(&cluster, &res, &args.name, ns.as_deref(), &line, extra))
}

/// The revisions of a workload, oldest first: (revision, pod template, change cause, created).
async fn revisions(
    cluster: &Connection,
    res: &Resource,
    ns: Option<&str>,
    obj: &Value,
    k: &Clusters,
) -> Result<Vec<(i64, Value, String, String)>, ToolError> {
    let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_string();
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let owned_kind = if res.kind == "Deployment" { "replicasets" } else { "controllerrevisions" };
    let owned = cluster.discovery.resolve(&cluster.client, &cluster.name, owned_kind, Some("apps/v1")).await?;
    super::api::check_kind(k, &owned)?;
    let api = dyn_api(cluster, &owned, ns);
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| api_error(e, &Op::new("list", &owned.qualified()).namespace(ns).context(&cluster.name)))?;
    let mut out = vec![];
    for item in list.items {
        let v = serde_json::to_value(&item).unwrap_or(Value::Null);
        let mine = v
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|o| o.iter().any(|o| o["uid"] == uid.as_str()));
        if !mine {
            continue;
        }
        let cause = v
            .pointer("/metadata/annotations/kubernetes.io~1change-cause")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let created = v.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or("").to_string();
        let (rev, template) = if res.kind == "Deployment" {
            let rev = v
                .pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
                .and_then(Value::as_str)
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            (rev, v.pointer("/spec/template").cloned().unwrap_or(Value::Null))
        } else {
            (v["revision"].as_i64().unwrap_or(0), v.pointer("/data/spec/template").cloned().unwrap_or(Value::Null))
        };
        out.push((rev, template, cause, created));
    }
    out.sort_by_key(|r| r.0);
    Ok(out)
}

fn template_images(t: &Value) -> String {
    t.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| format!("{}={}", c["name"].as_str().unwrap_or("?"), c["image"].as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

async fn rollout_history(k: Arc<Clusters>, ctx: Context, args: RolloutArgs) -> Result<Rendered<Value>, ToolError> {
    let (cluster, res, ns, api) = rollout_target(&k, &ctx, &args, false).await?;
    let op = Op::new("get", &res.qualified()).name(&args.name).namespace(ns.as_deref()).context(&cluster.name);
    let obj = serde_json::to_value(api.get(&args.name).await.map_err(|e| api_error(e, &op))?).unwrap_or(Value::Null);
    let revs = revisions(&cluster, &res, ns.as_deref(), &obj, &k).await?;
    let rows: Vec<Vec<String>> = revs
        .iter()
        .map(|(r, t, cause, created)| {
            vec![
                r.to_string(),
                created.clone(),
                template_images(t),
                if cause.is_empty() { "<none>".into() } else { clip(cause, 100) },
            ]
        })
        .collect();
    let table = table(&["REVISION", "CREATED", "IMAGES", "CHANGE-CAUSE"], &rows);
    let items: Vec<Value> = revs.iter().map(|(r, t, cause, created)| json!({"revision": r, "created": created, "images": template_images(t), "changeCause": cause})).collect();
    let mut result = outcome(&cluster, &res, &args.name, ns.as_deref(), "", json!({"revisions": items}));
    result.text += &table;
    Ok(result)
}

async fn rollout_undo(k: Arc<Clusters>, ctx: Context, args: RolloutArgs) -> Result<Rendered<Value>, ToolError> {
    let (cluster, res, ns, api) = rollout_target(&k, &ctx, &args, true).await?;
    let op = Op::new("update", &res.qualified()).name(&args.name).namespace(ns.as_deref()).context(&cluster.name);
    let current = api.get(&args.name).await.map_err(|e| api_error(e, &op))?;
    let mut obj = serde_json::to_value(&current).unwrap_or(Value::Null);
    let revs = revisions(&cluster, &res, ns.as_deref(), &obj, &k).await?;
    let latest = revs.last().map(|r| r.0).unwrap_or(0);
    let wanted = match args.to_revision.filter(|r| *r > 0) {
        Some(r) => r,
        None => revs.iter().rev().map(|r| r.0).find(|r| *r < latest).ok_or_else(|| {
            ToolError::failed(format!(
                "{} has no earlier revision to return to (rollout_history lists them)",
                object_ref(&res, &args.name, ns.as_deref())
            ))
        })?,
    };
    let Some((_, template, _, _)) = revs.iter().find(|r| r.0 == wanted) else {
        return Err(ToolError::not_found(format!("revision {wanted} not found (rollout_history lists the revisions)")));
    };
    let mut template = template.clone();
    // The pod-template-hash label belongs to the ReplicaSet, not to the template.
    if let Some(labels) = template.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove("pod-template-hash");
    }
    if let Some(t) = template.as_object_mut() {
        t.remove("$patch");
    }
    obj["spec"]["template"] = template;
    let mut updated: kube::core::DynamicObject =
        serde_json::from_value(obj).map_err(|e| ToolError::failed(format!("cannot rebuild the object: {e}")))?;
    updated.metadata.managed_fields = None;
    // The resourceVersion stays: a change made meanwhile makes this a 409 conflict
    // instead of being overwritten.
    let params = PostParams { dry_run: args.dry_run, field_manager: Some(FIELD_MANAGER.into()) };
    api.replace(&args.name, &params, &updated).await.map_err(|e| api_error(e, &op))?;
    let line = format!(" rolled back to revision {wanted}{}", changed(args.dry_run, ""));
    let extra = json!({"revision": wanted, "dryRun": args.dry_run});
    Ok(outcome(&cluster, &res, &args.name, ns.as_deref(), &line, extra))
}

/// What a change's line says next: a dry run changed nothing, else `then`.
fn changed(dry_run: bool, then: &str) -> &str {
    if dry_run { " (server dry run, nothing changed)" } else { then }
}

const FOLLOW: &str = "; rollout_status follows progress";

/// A workload tool's result: the object's reference followed by `line`, and the data
/// every one has (context, resource, name, namespace) with `extra`'s members after them.
fn outcome(
    cluster: &Connection,
    res: &Resource,
    name: &str,
    ns: Option<&str>,
    line: &str,
    extra: Value,
) -> Rendered<Value> {
    let text = format!("{}{line}\n", object_ref(res, name, ns));
    let mut data = json!({"context": cluster.name, "resource": res.qualified(), "name": name, "namespace": ns});
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    Rendered { text, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_rollout_rules() {
        let o = json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "updatedReplicas": 1, "replicas": 2, "availableReplicas": 1}, "spec": {"replicas": 2}});
        assert_eq!(rollout_state("Deployment", &o), (false, "1 of 2 new replicas have been updated".into()));
        let done = json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2}, "spec": {"replicas": 2}});
        assert!(rollout_state("Deployment", &done).0);
    }
}
