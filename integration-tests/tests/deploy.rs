//! The deployment artifacts: `deploy/kubernetes/` and `deploy/docker/*.Dockerfile`.
//!
//! Every manifest document parses strictly into its k8s-openapi type (the typed value,
//! serialized again, is the document: a misspelled or misplaced field fails); the
//! Deployments are probed, non-root, bounded and pass their connector only flags the
//! binary accepts; the Services, NetworkPolicies and Secrets match their Deployments;
//! mcp-kubernetes' RBAC only reads. The Dockerfiles follow the rules that matter
//! (multi-stage, `--locked`, pinned tags, non-root final stage, exec-form entrypoint)
//! and lint cleanly with two npm linters that `scripts/setup-tools.sh` installs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use integration_tests::{CONNECTORS, binary};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Container, Namespace, PodSpec, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde::de::{Deserialize, DeserializeOwned};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// One YAML document of a manifest file, as JSON.
struct Doc {
    file: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
    fn typed<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.value.clone())
            .unwrap_or_else(|e| panic!("{}: {} {}: {e}", self.file, self.kind(), self.name()))
    }
}

fn parse_documents(file: &str, text: &str) -> Vec<Doc> {
    serde_yaml_ng::Deserializer::from_str(text)
        .enumerate()
        .map(|(i, doc)| {
            let value = Value::deserialize(doc).unwrap_or_else(|e| panic!("{file}: document {}: not YAML: {e}", i + 1));
            assert!(value.is_object(), "{file}: document {} is not an object: {value}", i + 1);
            Doc { file: file.to_string(), value }
        })
        .collect()
}

/// Every document of every manifest, by a short name: `namespace.yaml`, `<connector>.yaml`
/// (the workload, in deploy/kubernetes/<connector>/), `<connector>/scaling.yaml` (its
/// autoscaler and disruption budget) and `secrets/<connector>.yaml`.
fn manifests() -> BTreeMap<String, Vec<Doc>> {
    let mut paths = vec![("namespace.yaml".to_string(), "namespace/namespace.yaml".to_string())];
    for connector in CONNECTORS {
        paths.push((format!("{connector}.yaml"), format!("{connector}/{connector}.yaml")));
        paths.push((format!("{connector}/scaling.yaml"), format!("{connector}/scaling.yaml")));
        paths.push((format!("secrets/{connector}.yaml"), format!("secrets/{connector}.yaml")));
    }
    let mut files = BTreeMap::new();
    for (name, relative) in paths {
        let path = root().join("deploy/kubernetes").join(relative);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let docs = parse_documents(&name, &text);
        files.insert(name, docs);
    }
    files
}

/// A connector's documents: its workload file and its Secrets file.
fn connector_docs<'a>(files: &'a BTreeMap<String, Vec<Doc>>, connector: &str) -> Vec<&'a Doc> {
    let mut docs = Vec::new();
    for file in [format!("{connector}.yaml"), format!("secrets/{connector}.yaml")] {
        let found = files.get(&file).unwrap_or_else(|| panic!("deploy/kubernetes/{file} is missing"));
        docs.extend(found);
    }
    docs
}

fn all_docs(files: &BTreeMap<String, Vec<Doc>>) -> impl Iterator<Item = &Doc> {
    files.values().flatten()
}

/// The typed value serialized again must be the document itself.
fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(doc.clone()).map_err(|e| format!("does not parse: {e}"))?;
    let again = serde_json::to_value(&typed).map_err(|e| format!("does not serialize: {e}"))?;
    if &again == doc {
        Ok(())
    } else {
        Err(format!(
            "fields the type does not know (or of another shape) were dropped:\n document: {doc}\n typed:    {again}"
        ))
    }
}

/// Strict parsing by `apiVersion` and `kind`.
fn check_strictly(doc: &Value) -> Result<(), String> {
    let api_version = doc["apiVersion"].as_str().unwrap_or("");
    let kind = doc["kind"].as_str().unwrap_or("");
    match (api_version, kind) {
        ("v1", "Namespace") => round_trip::<Namespace>(doc),
        ("v1", "ServiceAccount") => round_trip::<ServiceAccount>(doc),
        ("v1", "Secret") => round_trip::<Secret>(doc),
        ("v1", "Service") => round_trip::<Service>(doc),
        ("apps/v1", "Deployment") => round_trip::<Deployment>(doc),
        ("networking.k8s.io/v1", "NetworkPolicy") => round_trip::<NetworkPolicy>(doc),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => round_trip::<HorizontalPodAutoscaler>(doc),
        ("policy/v1", "PodDisruptionBudget") => round_trip::<PodDisruptionBudget>(doc),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => round_trip::<ClusterRole>(doc),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => round_trip::<ClusterRoleBinding>(doc),
        ("rbac.authorization.k8s.io/v1", "Role") => round_trip::<Role>(doc),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => round_trip::<RoleBinding>(doc),
        _ => Err(format!("no k8s-openapi type known here for apiVersion {api_version:?}, kind {kind:?}")),
    }
}

#[test]
fn every_manifest_document_parses_strictly_into_its_kubernetes_type() {
    let files = manifests();
    let mut failures = Vec::new();
    for doc in all_docs(&files) {
        if let Err(why) = check_strictly(&doc.value) {
            failures.push(format!("{}: {} {}: {why}", doc.file, doc.kind(), doc.name()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // One file per connector, each with the whole set.
    for connector in CONNECTORS {
        let file = format!("{connector}.yaml");
        let docs = connector_docs(&files, connector);
        let kinds: BTreeSet<&str> = docs.iter().map(|d| d.kind()).collect();
        for kind in ["ServiceAccount", "Secret", "Deployment", "Service", "NetworkPolicy"] {
            assert!(kinds.contains(kind), "{connector} has no {kind}");
        }
        // Applying the workload never overwrites the Secrets a user created.
        assert!(!files[&file].iter().any(|d| d.kind() == "Secret"), "{file}: Secrets belong in secrets/{file}");
        let secrets = &files[&format!("secrets/{file}")];
        assert!(secrets.iter().all(|d| d.kind() == "Secret"), "secrets/{file}: only Secrets");
        for doc in docs {
            let namespace = doc.value["metadata"]["namespace"].as_str();
            let cluster_scoped = matches!(doc.kind(), "ClusterRole" | "ClusterRoleBinding" | "Namespace");
            assert!(
                cluster_scoped || namespace == Some("mcp"),
                "{file}: {} {} is not in namespace mcp",
                doc.kind(),
                doc.name()
            );
        }
    }
    let k8s: BTreeSet<&str> = files["mcp-kubernetes.yaml"].iter().map(Doc::kind).collect();
    assert!(k8s.contains("ClusterRole") && k8s.contains("ClusterRoleBinding"), "mcp-kubernetes.yaml lacks its RBAC");
    assert!(files["namespace.yaml"].iter().any(|d| d.kind() == "Namespace" && d.name() == "mcp"));
}

#[test]
fn strict_parsing_rejects_a_misspelled_or_misplaced_field() {
    let files = manifests();
    let deployment = all_docs(&files).find(|d| d.kind() == "Deployment").expect("a Deployment");
    assert_eq!(check_strictly(&deployment.value), Ok(()));

    let mut misspelled = deployment.value.clone();
    let container = &mut misspelled["spec"]["template"]["spec"]["containers"][0];
    let probe = container["readinessProbe"].take();
    container["readinesProbe"] = probe;
    let err = check_strictly(&misspelled).expect_err("a misspelled probe must fail");
    assert!(err.contains("readinesProbe"), "{err}");

    let mut misplaced = deployment.value.clone();
    misplaced["spec"]["template"]["spec"]["runAsNonRoot"] = Value::Bool(true);
    assert!(check_strictly(&misplaced).is_err(), "runAsNonRoot on the pod spec (not its securityContext) must fail");

    let mut wrong_kind = deployment.value.clone();
    wrong_kind["kind"] = Value::String("Deploymnet".into());
    assert!(check_strictly(&wrong_kind).is_err());

    let mut wrong_type = deployment.value.clone();
    wrong_type["spec"]["replicas"] = Value::String("three".into());
    assert!(check_strictly(&wrong_type).is_err());
}

fn deployments(files: &BTreeMap<String, Vec<Doc>>) -> Vec<(&Doc, Deployment)> {
    all_docs(files).filter(|d| d.kind() == "Deployment").map(|d| (d, d.typed::<Deployment>())).collect()
}

fn pod_spec(deployment: &Deployment) -> &PodSpec {
    deployment.spec.template.spec.as_ref().expect("a pod template spec")
}

fn port_is_http(port: &IntOrString, container: &Container) -> bool {
    let ports = container.ports.as_deref().unwrap_or_default();
    match port {
        IntOrString::Int(n) => *n == 8080 && ports.iter().any(|p| p.container_port == 8080),
        IntOrString::String(name) => ports.iter().any(|p| p.name.as_deref() == Some(name) && p.container_port == 8080),
    }
}

#[test]
fn deployments_are_probed_non_root_locked_down_and_bounded() {
    let files = manifests();
    let found = deployments(&files);
    let names: BTreeSet<&str> = found.iter().map(|(d, _)| d.name()).collect();
    assert_eq!(names, CONNECTORS.into_iter().collect(), "one Deployment per connector");
    for (doc, deployment) in &found {
        let what = format!("{}: Deployment {}", doc.file, doc.name());
        let spec = &deployment.spec;
        assert_eq!(spec.replicas, Some(3), "{what}: stateless HTTP replicas");
        let pod = pod_spec(deployment);
        let pod_security = pod.security_context.as_ref();
        assert_eq!(pod.containers.len(), 1, "{what}: one container");
        let container = &pod.containers[0];

        let image = container.image.as_deref().unwrap_or_else(|| panic!("{what}: no image"));
        let tag = image.rsplit('/').next().and_then(|last| last.split_once(':')).map(|(_, tag)| tag);
        assert!(
            tag.is_some_and(|t| t != "latest") && image.contains(doc.name()),
            "{what}: image {image:?} must be the connector's, with a pinned tag"
        );

        let readiness = container.readiness_probe.as_ref().and_then(|p| p.http_get.as_ref());
        let liveness = container.liveness_probe.as_ref().and_then(|p| p.http_get.as_ref());
        let readiness = readiness.unwrap_or_else(|| panic!("{what}: no HTTP readiness probe"));
        let liveness = liveness.unwrap_or_else(|| panic!("{what}: no HTTP liveness probe"));
        assert_eq!(readiness.path.as_deref(), Some("/readyz"), "{what}: readiness path");
        assert_eq!(liveness.path.as_deref(), Some("/healthz"), "{what}: liveness path");
        assert!(port_is_http(&readiness.port, container), "{what}: readiness probe port is not 8080");
        assert!(port_is_http(&liveness.port, container), "{what}: liveness probe port is not 8080");

        let security = container.security_context.as_ref();
        let non_root = security.and_then(|s| s.run_as_non_root).or(pod_security.and_then(|s| s.run_as_non_root));
        assert_eq!(non_root, Some(true), "{what}: runAsNonRoot");
        let uid = security.and_then(|s| s.run_as_user).or(pod_security.and_then(|s| s.run_as_user));
        assert!(uid.is_some_and(|u| u != 0), "{what}: a numeric non-root runAsUser (the kubelet checks it)");
        let security = security.unwrap_or_else(|| panic!("{what}: no container securityContext"));
        assert_eq!(security.read_only_root_filesystem, Some(true), "{what}: readOnlyRootFilesystem");
        assert_eq!(security.allow_privilege_escalation, Some(false), "{what}: allowPrivilegeEscalation");
        let dropped = security.capabilities.as_ref().and_then(|c| c.drop.as_deref()).unwrap_or_default();
        assert!(dropped.iter().any(|c| c == "ALL"), "{what}: capabilities drop ALL");
        assert!(
            security.capabilities.as_ref().and_then(|c| c.add.as_ref()).is_none_or(|a| a.is_empty()),
            "{what}: no added capabilities"
        );

        let resources = container.resources.as_ref().unwrap_or_else(|| panic!("{what}: no resources"));
        let requests = resources.requests.as_ref().unwrap_or_else(|| panic!("{what}: no resource requests"));
        assert!(requests.contains_key("cpu") && requests.contains_key("memory"), "{what}: cpu and memory requests");
        let limits = resources.limits.as_ref().unwrap_or_else(|| panic!("{what}: no resource limits"));
        assert!(limits.contains_key("memory"), "{what}: a memory limit");

        // Authentication: the server refuses 0.0.0.0 without it.
        let args = container.args.as_deref().unwrap_or_default();
        let env: Vec<&str> = container.env.as_deref().unwrap_or_default().iter().map(|e| e.name.as_str()).collect();
        assert!(
            args.iter().any(|a| a.starts_with("--auth-tokens-file=") || a.starts_with("--oauth-issuer="))
                || env.contains(&"MCP_AUTH_TOKENS_FILE")
                || env.contains(&"MCP_OAUTH_ISSUER"),
            "{what}: no authentication configured"
        );
        assert!(!args.iter().any(|a| a.contains("insecure-no-auth")), "{what}: --insecure-no-auth");
        assert!(env.contains(&"MCP_STATE_SECRET"), "{what}: replicas need the same MCP_STATE_SECRET");

        // Only mcp-kubernetes talks to the API server.
        let automount = pod.automount_service_account_token;
        assert_eq!(automount, Some(doc.name() == "mcp-kubernetes"), "{what}: automountServiceAccountToken");
        assert_eq!(pod.service_account_name.as_deref(), Some(doc.name()), "{what}: its own ServiceAccount");
    }
}

/// The Secret keys mounted into a Deployment's container, as file paths.
fn mounted_secret_files(docs: &[&Doc], deployment: &Deployment) -> BTreeSet<String> {
    let pod = pod_spec(deployment);
    let secrets: BTreeMap<&str, Secret> =
        docs.iter().filter(|d| d.kind() == "Secret").map(|d| (d.name(), d.typed::<Secret>())).collect();
    let mut files = BTreeSet::new();
    for mount in pod.containers[0].volume_mounts.as_deref().unwrap_or_default() {
        let volume = pod.volumes.as_deref().unwrap_or_default().iter().find(|v| v.name == mount.name);
        let volume = volume.unwrap_or_else(|| panic!("mount {} has no volume", mount.name));
        let Some(source) = &volume.secret else { continue };
        assert_eq!(mount.read_only, Some(true), "secret volume {} must be mounted read-only", volume.name);
        let name = source.secret_name.as_deref().expect("a secretName");
        let secret = secrets.get(name).unwrap_or_else(|| panic!("Secret {name} is not in the same file"));
        let keys: BTreeSet<&String> = secret.string_data.iter().flat_map(|d| d.keys()).collect();
        match &source.items {
            Some(items) => {
                for item in items {
                    assert!(keys.contains(&item.key), "Secret {name} has no key {}", item.key);
                    files.insert(format!("{}/{}", mount.mount_path, item.path));
                }
            }
            None => files.extend(keys.iter().map(|k| format!("{}/{k}", mount.mount_path))),
        }
    }
    files
}

#[test]
fn services_policies_and_secrets_match_their_deployments() {
    let files = manifests();
    for connector in CONNECTORS {
        let file = format!("{connector}.yaml");
        let docs = &connector_docs(&files, connector);
        let of_kind = |kind: &str| docs.iter().filter(|d| d.kind() == kind).collect::<Vec<_>>();
        let deployment: Deployment = of_kind("Deployment")[0].typed();
        let spec = &deployment.spec;
        let pod_labels = spec.template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        let selects = |selector: &BTreeMap<String, String>| {
            !selector.is_empty() && selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v))
        };
        assert!(selects(spec.selector.match_labels.as_ref().expect("matchLabels")), "{file}: Deployment selector");

        let service: Service = of_kind("Service")[0].typed();
        let service = service.spec.expect("a Service spec");
        assert!(selects(service.selector.as_ref().expect("a Service selector")), "{file}: Service selects no pod");
        let ports = service.ports.expect("Service ports");
        assert!(
            ports.iter().any(|p| p.port == 8080
                && p.target_port.as_ref().is_some_and(|t| port_is_http(t, &pod_spec(&deployment).containers[0]))),
            "{file}: Service does not reach the container's 8080"
        );

        let policy: NetworkPolicy = of_kind("NetworkPolicy")[0].typed();
        let policy = policy.spec.expect("a NetworkPolicy spec");
        assert!(
            selects(policy.pod_selector.as_ref().and_then(|s| s.match_labels.as_ref()).expect("podSelector")),
            "{file}: policy selects no pod"
        );
        let types = policy.policy_types.unwrap_or_default();
        assert!(types.contains(&"Ingress".into()) && types.contains(&"Egress".into()), "{file}: policyTypes");
        let ingress = policy.ingress.unwrap_or_default();
        assert!(!ingress.is_empty(), "{file}: no ingress rule");
        for rule in &ingress {
            let ports = rule.ports.as_deref().unwrap_or_default();
            assert!(
                !ports.is_empty() && ports.iter().all(|p| p.port == Some(IntOrString::Int(8080))),
                "{file}: ingress must be limited to 8080"
            );
            let from = rule.from.as_deref().unwrap_or_default();
            assert!(
                !from.is_empty() && from.iter().all(|p| p.pod_selector.is_some() && p.ip_block.is_none()),
                "{file}: ingress only from the namespace's client pods"
            );
        }
        let egress = policy.egress.unwrap_or_default();
        let egress_ports: BTreeSet<i32> = egress
            .iter()
            .flat_map(|r| r.ports.iter().flatten())
            .map(|p| match &p.port {
                Some(IntOrString::Int(n)) => *n,
                other => panic!("{file}: egress port {other:?} must be a number"),
            })
            .collect();
        assert!(
            egress.iter().all(|r| r.ports.as_ref().is_some_and(|p| !p.is_empty())),
            "{file}: every egress rule names its ports"
        );
        let backend: &[i32] = match connector {
            "mcp-postgres" => &[5432],
            "mcp-docker" => &[2376],
            "mcp-kubernetes" => &[443, 6443],
            "mcp-n8n" => &[5678, 443],
            _ => unreachable!(),
        };
        let expected: BTreeSet<i32> = backend.iter().copied().chain([53]).collect();
        assert_eq!(egress_ports, expected, "{file}: egress only to DNS and the backend");

        // Every file the container is told to read is a mounted Secret key.
        let mounted = mounted_secret_files(docs, &deployment);
        let container = &pod_spec(&deployment).containers[0];
        let env_values = container.env.iter().flatten().filter_map(|e| e.value.clone());
        let paths: Vec<String> = container
            .args
            .iter()
            .flatten()
            .filter_map(|a| a.split_once('=').map(|(_, v)| v.to_string()))
            .chain(env_values)
            .filter(|v| v.starts_with("/var/run/secrets/"))
            .collect();
        assert!(!paths.is_empty(), "{file}: the container reads no Secret file");
        for path in paths {
            let is_dir = mounted.iter().any(|m| m.starts_with(&format!("{path}/")));
            assert!(mounted.contains(&path) || is_dir, "{file}: {path} is not a mounted Secret key ({mounted:?})");
        }
        for var in container.env.iter().flatten() {
            let Some(key) = var.value_from.as_ref().and_then(|f| f.secret_key_ref.as_ref()) else { continue };
            let secret: Secret = docs
                .iter()
                .find(|d| d.kind() == "Secret" && d.name() == key.name)
                .unwrap_or_else(|| panic!("{file}: env {} names Secret {} not in the file", var.name, key.name))
                .typed();
            assert!(
                secret.string_data.as_ref().is_some_and(|d| d.contains_key(&key.key)),
                "{file}: Secret {} has no key {}",
                key.name,
                key.key
            );
        }
        // Placeholders only: nothing that looks like a real credential is committed.
        for doc in docs.iter().filter(|d| d.kind() == "Secret") {
            let secret: Secret = doc.typed();
            assert!(secret.data.is_none(), "{file}: Secret {} must use stringData placeholders", doc.name());
            for (key, value) in secret.string_data.iter().flatten() {
                assert!(value.contains("REPLACE_ME"), "{file}: Secret {} key {key} is not a placeholder", doc.name());
            }
        }
    }
}

#[test]
fn mcp_kubernetes_rbac_only_reads_and_never_secrets() {
    let files = manifests();
    let docs = &files["mcp-kubernetes.yaml"];
    let roles: Vec<ClusterRole> = docs.iter().filter(|d| d.kind() == "ClusterRole").map(Doc::typed).collect();
    assert_eq!(roles.len(), 1);
    let role = &roles[0];
    let rules = role.rules.as_deref().unwrap_or_default();
    let read = ["get", "list", "watch"];
    let mut resources = BTreeSet::new();
    for rule in rules {
        for verb in &rule.verbs {
            assert!(read.contains(&verb.as_str()), "ClusterRole grants {verb:?}");
        }
        let groups = rule.api_groups.as_deref().unwrap_or_default();
        assert!(!groups.iter().any(|g| g == "*"), "wildcard API group");
        for resource in rule.resources.as_deref().unwrap_or_default() {
            assert!(resource != "*" && resource != "secrets", "ClusterRole grants {resource:?}");
            assert!(!resource.ends_with("/exec") && !resource.ends_with("/attach"), "ClusterRole grants {resource:?}");
            for group in groups {
                resources.insert(format!("{resource}.{group}"));
            }
        }
        assert!(rule.non_resource_urls.is_none(), "non-resource URLs");
    }
    for needed in ["pods.", "pods/log.", "services.", "events.", "namespaces.", "nodes.", "deployments.apps"] {
        assert!(resources.contains(needed), "the read role lacks {needed}");
    }
    let bindings: Vec<ClusterRoleBinding> =
        docs.iter().filter(|d| d.kind() == "ClusterRoleBinding").map(Doc::typed).collect();
    assert_eq!(bindings.len(), 1);
    let binding = &bindings[0];
    assert_eq!(binding.role_ref.kind, "ClusterRole");
    assert_eq!(Some(&binding.role_ref.name), role.metadata.name.as_ref());
    let subjects = binding.subjects.as_deref().unwrap_or_default();
    assert_eq!(subjects.len(), 1);
    assert_eq!((subjects[0].kind.as_str(), subjects[0].name.as_str()), ("ServiceAccount", "mcp-kubernetes"));
    assert_eq!(subjects[0].namespace.as_deref(), Some("mcp"));
    assert!(
        !docs.iter().any(|d| matches!(d.kind(), "Role" | "RoleBinding")),
        "the write Role is optional: it stays commented out"
    );
    let text =
        std::fs::read_to_string(root().join("deploy/kubernetes/mcp-kubernetes/mcp-kubernetes.yaml")).expect("the file");
    assert!(text.contains("# kind: Role\n") && text.contains("# kind: RoleBinding\n"), "the optional write Role");

    // The commented write Role is itself a valid Role and RoleBinding once uncommented.
    let start = text.find("# ---\n").expect("the commented documents");
    let uncommented: String = text[start..]
        .lines()
        .map(|l| l.strip_prefix("# ").or_else(|| l.strip_prefix('#')).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let optional = parse_documents("optional write Role", &uncommented);
    let kinds: Vec<&str> = optional.iter().map(Doc::kind).collect();
    // The write Role and its binding, then the per-user option (--impersonate): the
    // impersonate ClusterRole, its binding, and a user's example RoleBinding.
    assert_eq!(kinds, ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "RoleBinding"]);
    for doc in &optional {
        assert_eq!(check_strictly(&doc.value), Ok(()), "{}", doc.kind());
    }
    let write: Role = optional[0].typed();
    for rule in write.rules.iter().flatten() {
        assert!(!rule.resources.iter().flatten().any(|r| r == "secrets" || r == "*"), "the write Role touches secrets");
    }
    let impersonate: ClusterRole = optional[2].typed();
    for rule in impersonate.rules.iter().flatten() {
        assert_eq!(rule.verbs, ["impersonate"], "the impersonate ClusterRole grants only impersonation");
        assert!(rule.resources.iter().flatten().all(|r| r == "users" || r == "groups"), "{:?}", rule.resources);
    }
}

#[test]
fn every_connector_has_an_autoscaler_and_a_disruption_budget_for_its_deployment() {
    let files = manifests();
    for connector in CONNECTORS {
        let file = format!("{connector}/scaling.yaml");
        let docs = &files[&file];
        let deployment: Deployment = files[&format!("{connector}.yaml")]
            .iter()
            .find(|d| d.kind() == "Deployment")
            .expect("a Deployment")
            .typed();
        let replicas = deployment.spec.replicas.expect("replicas");
        let pod = pod_spec(&deployment);
        let pod_labels = deployment.spec.template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        for doc in docs {
            assert_eq!(doc.value["metadata"]["namespace"], "mcp", "{file}: {} is not in namespace mcp", doc.kind());
        }

        let hpas: Vec<HorizontalPodAutoscaler> =
            docs.iter().filter(|d| d.kind() == "HorizontalPodAutoscaler").map(Doc::typed).collect();
        assert_eq!(hpas.len(), 1, "{file}: one HorizontalPodAutoscaler");
        let hpa = &hpas[0].spec;
        let target = &hpa.scale_target_ref;
        assert_eq!(
            (target.api_version.as_deref(), target.kind.as_str(), target.name.as_str()),
            (Some("apps/v1"), "Deployment", connector),
            "{file}: the HPA scales the connector's Deployment"
        );
        let min = hpa.min_replicas.unwrap_or(1);
        assert!(
            min >= 2 && min <= replicas,
            "{file}: minReplicas {min} (at least 2, at most the Deployment's {replicas})"
        );
        assert!(hpa.max_replicas > min, "{file}: maxReplicas {} leaves no room to scale", hpa.max_replicas);
        // Utilization is relative to the container's CPU request: without one the HPA
        // never acts.
        let cpu = hpa.metrics.iter().flatten().filter_map(|m| m.resource.as_ref()).find(|r| r.name == "cpu");
        let cpu = cpu.unwrap_or_else(|| panic!("{file}: the HPA has no CPU metric"));
        assert!(cpu.target.average_utilization.is_some_and(|u| (1..=100).contains(&u)), "{file}: CPU target");
        let requests = pod.containers[0].resources.as_ref().and_then(|r| r.requests.as_ref());
        assert!(requests.is_some_and(|r| r.contains_key("cpu")), "{connector}.yaml: the HPA needs a CPU request");

        let pdbs: Vec<PodDisruptionBudget> =
            docs.iter().filter(|d| d.kind() == "PodDisruptionBudget").map(Doc::typed).collect();
        assert_eq!(pdbs.len(), 1, "{file}: one PodDisruptionBudget");
        let pdb = pdbs[0].spec.as_ref().expect("a PDB spec");
        let selector = pdb.selector.as_ref().and_then(|s| s.match_labels.as_ref()).expect("a PDB matchLabels");
        assert!(
            !selector.is_empty() && selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)),
            "{file}: the PodDisruptionBudget selects none of the Deployment's pods"
        );
        // minAvailable below the replicas, or a node drain could never evict a pod.
        match &pdb.min_available {
            Some(IntOrString::Int(n)) => {
                assert!(*n >= 1 && *n < min, "{file}: minAvailable {n} must be at least 1 and below {min} replicas")
            }
            other => panic!("{file}: minAvailable {other:?} must be a number of pods"),
        }
    }
}

/// The parsed `kustomization.yaml` of a directory under deploy/kubernetes.
fn kustomization(dir: &str) -> Value {
    let path = root().join("deploy/kubernetes").join(dir).join("kustomization.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `kubectl kustomize DIR`: what `kubectl apply -k DIR` would apply.
fn kustomize(dir: &Path) -> Result<String, String> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .map_err(|e| format!("kubectl (needed to build the kustomizations; it is on the test machines): {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

#[test]
fn one_kustomization_per_connector_installs_it_with_secrets_generated_from_files() {
    let files = manifests();
    for connector in CONNECTORS {
        let dir = root().join("deploy/kubernetes").join(connector);
        let k = kustomization(connector);
        assert_eq!(k["kind"], "Kustomization", "{connector}/kustomization.yaml");
        // Every file it names exists (kustomize would fail on the cluster's doorstep).
        let resources: Vec<&str> = k["resources"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        assert!(
            resources.contains(&"../namespace") && resources.contains(&"scaling.yaml"),
            "{connector}: {resources:?}"
        );
        assert!(resources.contains(&format!("{connector}.yaml").as_str()), "{connector}: its workload");
        for resource in &resources {
            assert!(dir.join(resource).exists(), "{connector}/kustomization.yaml: {resource} does not exist");
        }
        // The generated Secrets are the ones secrets/<connector>.yaml documents, key for key.
        let documented: BTreeMap<&str, BTreeSet<String>> = files[&format!("secrets/{connector}.yaml")]
            .iter()
            .map(|d| (d.name(), d.typed::<Secret>().string_data.unwrap_or_default().into_keys().collect()))
            .collect();
        let mut generated = BTreeMap::new();
        for generator in k["secretGenerator"].as_array().into_iter().flatten() {
            let name = generator["name"].as_str().expect("a generator name");
            assert_eq!(generator["namespace"], "mcp", "{connector}: Secret {name} must be in namespace mcp");
            let mut keys = BTreeSet::new();
            for entry in generator["files"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                let (key, file) = entry.split_once('=').unwrap_or((entry, entry));
                let text = std::fs::read_to_string(dir.join(file))
                    .unwrap_or_else(|e| panic!("{connector}/kustomization.yaml: {file}: {e}"));
                assert!(text.contains("REPLACE_ME"), "{connector}/{file} must be a placeholder, not a credential");
                keys.insert(key.rsplit('/').next().unwrap_or(key).to_string());
            }
            generated.insert(name, keys);
        }
        assert_eq!(generated, documented, "{connector}: generated Secrets and secrets/{connector}.yaml differ");

        // What `kubectl apply -k` applies: every document strict, the whole set, and the
        // Deployment's references renamed to the generated (hash-suffixed) Secrets.
        let built = kustomize(&dir).unwrap_or_else(|e| panic!("kubectl kustomize {connector}: {e}"));
        let mut docs = parse_documents(&format!("kustomize {connector}"), &built);
        // kustomize wraps long base64 values over lines; the API server's decoder (Go's
        // encoding/base64) skips line breaks, the k8s-openapi one does not.
        for doc in docs.iter_mut().filter(|d| d.kind() == "Secret") {
            for value in doc.value["data"].as_object_mut().into_iter().flat_map(|d| d.values_mut()) {
                let joined = value.as_str().unwrap_or("").replace(['\n', '\r'], "");
                *value = Value::String(joined);
            }
        }
        for doc in &docs {
            assert_eq!(check_strictly(&doc.value), Ok(()), "kustomize {connector}: {} {}", doc.kind(), doc.name());
        }
        let kinds: BTreeSet<&str> = docs.iter().map(Doc::kind).collect();
        for kind in [
            "Namespace",
            "ServiceAccount",
            "Secret",
            "Deployment",
            "Service",
            "NetworkPolicy",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
        ] {
            assert!(kinds.contains(kind), "kubectl apply -k {connector} installs no {kind}");
        }
        let secrets: BTreeMap<&str, BTreeSet<String>> = docs
            .iter()
            .filter(|d| d.kind() == "Secret")
            .map(|d| (d.name(), d.typed::<Secret>().data.unwrap_or_default().into_keys().collect()))
            .collect();
        let deployment: Deployment = docs.iter().find(|d| d.kind() == "Deployment").expect("a Deployment").typed();
        let pod = pod_spec(&deployment);
        let mut referenced: Vec<(String, Option<String>)> = Vec::new();
        for volume in pod.volumes.iter().flatten() {
            if let Some(secret) = &volume.secret {
                let name = secret.secret_name.clone().expect("a secretName");
                referenced.extend(secret.items.iter().flatten().map(|i| (name.clone(), Some(i.key.clone()))));
                referenced.push((name, None));
            }
        }
        for var in pod.containers[0].env.iter().flatten() {
            if let Some(key) = var.value_from.as_ref().and_then(|f| f.secret_key_ref.as_ref()) {
                referenced.push((key.name.clone(), Some(key.key.clone())));
            }
        }
        assert!(!referenced.is_empty(), "kustomize {connector}: the Deployment reads no Secret");
        for (name, key) in referenced {
            let keys = secrets
                .get(name.as_str())
                .unwrap_or_else(|| panic!("kustomize {connector}: the Deployment names Secret {name}, not generated"));
            assert!(name != connector, "kustomize {connector}: Secret {name} kept its bare name (no content hash)");
            if let Some(key) = key {
                assert!(keys.contains(&key), "kustomize {connector}: Secret {name} has no key {key}");
            }
        }
    }
}

#[test]
fn a_kustomization_naming_a_missing_file_fails_to_build() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let dir = scratch.path();
    std::fs::write(
        dir.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nsecretGenerator:\n  - name: s\n    files:\n      - missing\n",
    )
    .expect("write");
    let err = kustomize(dir).expect_err("a missing secret file must fail the build");
    assert!(err.contains("missing"), "{err}");
}

/// A Dockerfile's instructions (continuations joined, comments dropped), as
/// (INSTRUCTION, arguments).
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (op, args) = current.split_once(char::is_whitespace).unwrap_or((&current, ""));
        out.push((op.to_ascii_uppercase(), args.trim().to_string()));
        current.clear();
    }
    out
}

fn dockerfile(connector: &str) -> (PathBuf, String) {
    let path = root().join(format!("deploy/docker/{connector}.Dockerfile"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, text)
}

/// The image's ENTRYPOINT, in exec form.
fn entrypoint(connector: &str) -> Vec<String> {
    let (path, text) = dockerfile(connector);
    let all = instructions(&text);
    let (_, args) = all.iter().rev().find(|(op, _)| op == "ENTRYPOINT").expect("an ENTRYPOINT");
    serde_json::from_str(args)
        .unwrap_or_else(|e| panic!("{}: ENTRYPOINT is not exec form ({e}): {args}", path.display()))
}

#[test]
fn dockerfiles_follow_the_rules_that_matter() {
    for connector in CONNECTORS {
        let (path, text) = dockerfile(connector);
        let what = path.display().to_string();
        let all = instructions(&text);
        let stages: Vec<usize> = all.iter().enumerate().filter(|(_, (op, _))| op == "FROM").map(|(i, _)| i).collect();
        assert!(stages.len() >= 2, "{what}: multi-stage");
        for &i in &stages {
            let image = all[i].1.split_whitespace().next().expect("an image");
            let tag = image.rsplit('/').next().and_then(|l| l.split_once(':')).map(|(_, t)| t);
            assert!(tag.is_some_and(|t| t != "latest"), "{what}: {image} needs a pinned, non-latest tag");
        }
        let builder = &all[stages[0]].1;
        let version = builder
            .strip_prefix("rust:1.")
            .and_then(|rest| rest.split(['-', '.']).next())
            .and_then(|minor| minor.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("{what}: builder {builder:?} is not rust:1.N"));
        assert!(version >= 89, "{what}: the workspace needs Rust >= 1.89, builder has 1.{version}");
        assert!(builder.contains("-slim-bookworm") && builder.ends_with(" AS builder"), "{what}: {builder}");
        let build = all[..stages[1]]
            .iter()
            .find(|(op, args)| op == "RUN" && args.contains("cargo build"))
            .unwrap_or_else(|| panic!("{what}: no cargo build in the builder stage"));
        for needed in ["--release", &format!("-p {connector}"), "--locked"] {
            assert!(build.1.contains(needed), "{what}: cargo build without {needed}");
        }

        let last = &all[*stages.last().expect("a stage")..];
        let base = &last[0].1;
        assert!(
            base.starts_with("gcr.io/distroless/cc-debian12") || base.starts_with("debian:bookworm-slim"),
            "{what}: final base {base}"
        );
        assert!(
            last.iter()
                .any(|(op, args)| op == "COPY" && args.starts_with("--from=builder") && args.contains(connector)),
            "{what}: the final stage copies the binary from the builder"
        );
        assert!(!last.iter().any(|(op, _)| op == "ADD"), "{what}: ADD in the final stage");
        let user = last.iter().rev().find(|(op, _)| op == "USER").map(|(_, u)| u.as_str());
        let user = user.unwrap_or_else(|| panic!("{what}: no USER in the final stage"));
        let uid = user.split(':').next().unwrap_or(user);
        assert!(!matches!(uid, "root" | "0" | ""), "{what}: USER {user}");
        assert!(uid.parse::<u32>().is_ok(), "{what}: a numeric USER lets the kubelet verify runAsNonRoot");
        assert!(last.iter().any(|(op, args)| op == "EXPOSE" && args == "8080"), "{what}: EXPOSE 8080");
        let has_shell = base.starts_with("debian:");
        if !has_shell {
            assert!(!last.iter().any(|(op, _)| op == "HEALTHCHECK"), "{what}: distroless has no tool for HEALTHCHECK");
        }

        let entry = entrypoint(connector);
        assert_eq!(entry[0], format!("/usr/local/bin/{connector}"), "{what}: ENTRYPOINT runs the connector");
        let rest: Vec<&str> = entry[1..].iter().map(String::as_str).collect();
        assert_eq!(rest, ["--transport", "http", "--listen", "0.0.0.0:8080"], "{what}: ENTRYPOINT arguments");
        assert!(!all.iter().any(|(op, _)| op == "CMD"), "{what}: CMD would add arguments silently");
    }

    let ignore = std::fs::read_to_string(root().join(".dockerignore")).expect("a .dockerignore at the root");
    let entries: Vec<&str> = ignore.lines().map(str::trim).collect();
    for needed in ["target/", ".git/"] {
        assert!(entries.contains(&needed), ".dockerignore lacks {needed}");
    }
}

/// The npm linters `scripts/setup-tools.sh` installs.
fn linter(name: &str) -> PathBuf {
    let cache = std::env::var_os("MCP_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/mcp-connectors")))
        .expect("MCP_CACHE_DIR or HOME");
    let path = cache.join("npm/node_modules/.bin").join(name);
    assert!(path.exists(), "{} is missing: run scripts/setup-tools.sh (scripts/test.sh does)", path.display());
    path
}

/// Both linters' findings on a Dockerfile; empty when it is clean.
fn lint(path: &Path) -> Vec<String> {
    let mut findings = Vec::new();
    let out = Command::new(linter("dockerfile-utils")).arg("lint").arg(path).output().expect("dockerfile-utils runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() || !text.trim().is_empty() {
        findings.push(format!("dockerfile-utils ({}):\n{text}", out.status));
    }
    let out = Command::new(linter("dockerfilelint")).arg("-j").arg(path).output().expect("dockerfilelint runs");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("dockerfilelint -j gave no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    for file in report["files"].as_array().expect("files") {
        for issue in file["issues"].as_array().expect("issues") {
            findings.push(format!("dockerfilelint: line {}: {}", issue["line"], issue["title"]));
        }
    }
    findings
}

#[test]
fn dockerfiles_lint_cleanly() {
    // The linters do find problems (a clean result is not a linter that never ran).
    let dir = tempfile::tempdir().expect("a temporary directory");
    let bad = dir.path().join("bad.Dockerfile");
    std::fs::write(&bad, "FROM debian:latest\nRUN apt-get install curl\nEXPOSE 99999\nCMD a\nCMD b\nFROMM x\n")
        .expect("write");
    let found = lint(&bad);
    assert!(found.iter().any(|f| f.starts_with("dockerfile-utils")), "dockerfile-utils found nothing: {found:?}");
    assert!(found.iter().any(|f| f.starts_with("dockerfilelint")), "dockerfilelint found nothing: {found:?}");

    let mut failures = Vec::new();
    for connector in CONNECTORS {
        let (path, _) = dockerfile(connector);
        let found = lint(&path);
        if !found.is_empty() {
            failures.push(format!("{}:\n{}", path.display(), found.join("\n")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Environment variables the containers set that the binaries read outside clap (so
/// `--help` does not list them).
const ENV_OUTSIDE_CLAP: [&str; 4] = ["MCP_AUTH_TOKENS", "N8N_API_KEY", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"];

/// Runs the binary with the arguments and `--help` at the end: clap rejects an unknown
/// flag, a repeated one or a bad value where it meets it, before the help.
fn help_with(binary: &Path, args: &[String]) -> std::process::Output {
    Command::new(binary)
        .args(args)
        .arg("--help")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()))
}

#[test]
fn the_binaries_accept_the_images_and_deployments_arguments_and_environment() {
    let files = manifests();
    for (doc, deployment) in deployments(&files) {
        let connector = doc.name();
        let bin = binary(connector);
        let container = &pod_spec(&deployment).containers[0];
        assert!(container.command.is_none(), "{connector}: the image's ENTRYPOINT runs, not a command override");
        let mut args: Vec<String> = entrypoint(connector)[1..].to_vec();
        args.extend(container.args.iter().flatten().cloned());

        let out = help_with(&bin, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{connector} {args:?} was refused:\n{stderr}");
        let help = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(help.contains("--transport"), "{connector}: not its help:\n{help}");

        // The check bites: an unknown flag, or a flag given twice, fails the same way.
        let mut unknown = args.clone();
        unknown.push("--no-such-flag".into());
        assert!(!help_with(&bin, &unknown).status.success(), "{connector}: an unknown flag was accepted");
        let mut twice = args.clone();
        twice.extend(["--listen".to_string(), "0.0.0.0:9090".to_string()]);
        assert!(!help_with(&bin, &twice).status.success(), "{connector}: a repeated flag was accepted");

        for var in container.env.iter().flatten() {
            let listed =
                help.contains(&format!("[env: {}=", var.name)) || help.contains(&format!("[env: {}]", var.name));
            assert!(
                listed || ENV_OUTSIDE_CLAP.contains(&var.name.as_str()),
                "{connector}: env {} is not a variable the binary reads",
                var.name
            );
            if var.name.starts_with("MCP_") && !var.name.starts_with("MCP_AUTH") && var.name != "MCP_STATE_SECRET" {
                let general = ["MCP_LOG_LEVEL", "MCP_ALLOWED_HOSTS"];
                let prefix = format!("MCP_{}_", connector.trim_start_matches("mcp-").to_ascii_uppercase());
                assert!(
                    general.contains(&var.name.as_str()) || var.name.starts_with(&prefix),
                    "{connector}: env {} belongs to another connector",
                    var.name
                );
            }
        }
    }
}

#[test]
fn the_deployments_environment_starts_a_server_that_insists_on_authentication() {
    // What the manifests guard against: the image's entrypoint alone, without a token
    // file or OAuth, must not serve 0.0.0.0. mcp-n8n needs no backend to get that far.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let key = dir.path().join("n8n-api-key");
    std::fs::write(&key, "not-a-real-key\n").expect("write");
    let mut args: Vec<String> = entrypoint("mcp-n8n")[1..].to_vec();
    args = args.into_iter().map(|a| if a == "0.0.0.0:8080" { "0.0.0.0:0".into() } else { a }).collect();
    let mut child = Command::new(binary("mcp-n8n"))
        .args(&args)
        .arg(format!("--api-key-file={}", key.display()))
        .env_clear()
        .env("N8N_API_URL", "http://127.0.0.1:9")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mcp-n8n runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mcp-n8n kept running on 0.0.0.0 without authentication");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("read stderr");
    assert!(!status.success(), "mcp-n8n served 0.0.0.0 without authentication:\n{stderr}");
    assert!(stderr.contains("without authentication"), "{stderr}");
    // (With the token file the Deployment mounts it would serve; that is not run here:
    // tests listen on loopback only.)
}
