//! Images: `list_images` (a `docker images` table), `inspect_image`, `image_history`;
//! with --allow-write, `tag_image` and `remove_image`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    CreateImageOptions, ListImagesOptions, PushImageOptions, RemoveImageOptions, TagImageOptions,
};
use futures::StreamExt;
use mcp_core::server::ServerBuilder;
use mcp_core::{Context, ToolError, tool_with};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::create::provenance;
use super::logs::{Stream, Tail};
use crate::config::Toolset;
use crate::daemons::Daemons;
use crate::errors::NO_IMAGE;
use crate::guard::refuse;
use crate::names::check_ref;
use crate::output::{
    Page, Prebuilt, Rendered, Reply, ago, clip, human_size, inspected, listing, one_line, rfc3339, said, short_id,
    table,
};
use mcp_core::connector::Trim;

pub fn register(builder: ServerBuilder, daemons: &Arc<Daemons>) -> ServerBuilder {
    builder.tools_in(
        Toolset::Images.name(),
        [
            tool_with("list_images", daemons, list_images)
                .title("List images")
                .description(
                    "Lists images as a compact `docker images` table: repository, tag, id, created, size (one row per \
                     tag). Filter by `reference` (e.g. `busybox`, `nginx:1.*`), `dangling`, `label`. Bounded, with \
                     `nextOffset` for the rest.",
                )
                .read_only(),
            tool_with("inspect_image", daemons, inspect_image)
                .title("Inspect an image")
                .description(
                    "Full detail of one image (docker image inspect): config, layers, architecture. Environment values \
                     whose names look secret are redacted.",
                )
                .read_only(),
            tool_with("image_history", daemons, image_history)
                .title("Image layer history")
                .description(
                    "The layers of an image with the instruction that created each and its size (docker history).",
                )
                .read_only(),
            tool_with("pull_image", daemons, pull_image)
                .title("Pull an image")
                .description(
                    "Pulls an image from its registry (docker pull), reporting progress per layer as it downloads. \
                     `image` is `name[:tag]` or `name@sha256:...`; the tag defaults to `latest`.",
                )
                .additive()
                .idempotent()
                .open_world(true),
            tool_with("push_image", daemons, push_image)
                .title("Push an image")
                .description(
                    "Pushes a local image to the registry its name points to (docker push), reporting progress. \
                     Tag it for that registry first with tag_image.",
                )
                .additive()
                .open_world(true),
            tool_with("build_image", daemons, build_image)
                .title("Build an image")
                .description(
                    "Builds an image from a build context directory on the server's host (under --allow-bind-path) \
                     with its Dockerfile (docker build), streaming each step as a progress notification. Returns the \
                     image id and the last lines of the build log; a failed build returns the log lines that explain \
                     it. `.dockerignore` is not applied: keep the context small.",
                )
                .additive(),
            tool_with("tag_image", daemons, tag_image)
                .title("Tag an image")
                .description("Gives an image another name (`repository` and `tag`, docker tag).")
                .additive()
                .idempotent(),
            tool_with("remove_image", daemons, remove_image)
                .title("Remove an image")
                .description(
                    "Removes an image or one of its tags (docker rmi). Refused while containers use it unless `force`.",
                )
                .destructive(),
        ],
    )
}

tool_args! {
    read ListImagesArgs {
        /// Include intermediate images.
        #[serde(default)]
        pub all: bool,
        /// Only images matching this reference (`name`, `name:tag`, globs allowed).
        pub reference: Option<String>,
        /// Only untagged (true) or only tagged (false) images.
        pub dangling: Option<bool>,
        /// Only images with these labels: `key` or `key=value` each.
        #[serde(default)]
        pub label: Vec<String>,
        /// Rows to skip: pass the `nextOffset` of a cut list.
        #[serde(default)]
        pub offset: usize,
        /// Most rows to return (at most the server's row limit).
        pub limit: Option<usize>,
    }
}

/// One image tag, as `docker images` shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ImageRow {
    /// `<none>` for an untagged image.
    pub repository: String,
    pub tag: String,
    /// Short id (12 characters).
    pub id: String,
    /// RFC 3339.
    pub created: String,
    /// Bytes.
    pub size: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageList {
    pub host: String,
    pub images: Vec<ImageRow>,
    #[serde(flatten)]
    pub page: Page,
}

pub async fn list_images(daemons: Arc<Daemons>, _ctx: Context, args: ListImagesArgs) -> Reply<ImageList> {
    let mut filters: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(reference) = &args.reference {
        if reference.is_empty() || reference.len() > 256 || reference.chars().any(char::is_whitespace) {
            return Err(ToolError::invalid_arguments("`reference`: a non-empty image reference without spaces"));
        }
        filters.insert("reference".into(), vec![reference.clone()]);
    }
    if let Some(dangling) = args.dangling {
        filters.insert("dangling".into(), vec![dangling.to_string()]);
    }
    if !args.label.is_empty() {
        filters.insert("label".into(), args.label.clone());
    }
    let options =
        ListImagesOptions { all: args.all, filters: (!filters.is_empty()).then_some(filters), ..Default::default() };
    let call = daemons.read(args.host.as_deref()).await?;
    let images = call.docker.list_images(Some(options)).await.map_err(call.fail(NO_IMAGE))?;
    let mut rows = Vec::new();
    for image in images {
        let created = image.created;
        let tags = if image.repo_tags.is_empty() { vec!["<none>:<none>".to_string()] } else { image.repo_tags.clone() };
        for tag in tags {
            let (repository, tag) = match tag.rsplit_once(':') {
                Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
                _ => (tag.clone(), String::new()),
            };
            rows.push(ImageRow {
                repository: one_line(&repository),
                tag: one_line(&tag),
                id: short_id(&image.id),
                created: format!("{} ({})", rfc3339(created), ago(created)),
                size: image.size,
            });
        }
    }
    rows.sort_by(|a, b| (&a.repository, &a.tag, &a.id).cmp(&(&b.repository, &b.tag, &b.id)));
    let (images, text, page) = listing(
        rows,
        daemons.settings.window(args.offset, args.limit),
        ("images", &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]),
        |r| format!("{} {} {} {} {}", r.repository, r.tag, r.id, r.created, r.size),
        |r| vec![r.repository.clone(), r.tag.clone(), r.id.clone(), r.created.clone(), human_size(r.size)],
        Some(format!("No images match on host `{}`.\n", call.name)),
    );
    Ok(Rendered { text, data: ImageList { host: call.name.clone(), images, page } })
}

tool_args! {
    read ImageArgs {
        /// The image: `name:tag`, `name@sha256:…` or an id.
        pub image: String,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InspectedImage {
    pub host: String,
    /// Docker's inspect document, with secret env values redacted.
    pub image: Value,
}

pub async fn inspect_image(
    daemons: Arc<Daemons>,
    _ctx: Context,
    args: ImageArgs,
) -> Result<Prebuilt<InspectedImage>, ToolError> {
    check_ref("image", &args.image)?;
    let call = daemons.read(args.host.as_deref()).await?;
    let path = format!("/images/{}/json", args.image);
    let document = call.document(&path, call.docker.inspect_image(&args.image), NO_IMAGE).await?;
    let trim = Trim {
        drop: &["GraphDriver"],
        env: &[&["Config", "Env"], &["ContainerConfig", "Env"]],
        redact: !daemons.settings.show_secrets,
        ..Trim::default()
    };
    inspected(&call.name, "image", &document, &trim)
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Layer {
    /// Short id, or `<missing>` for layers built elsewhere.
    pub id: String,
    /// RFC 3339.
    pub created: String,
    /// The instruction that made the layer (cut at 300 bytes).
    pub created_by: String,
    /// Bytes.
    pub size: i64,
    pub comment: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct History {
    pub host: String,
    pub image: String,
    /// Newest layer first.
    pub layers: Vec<Layer>,
}

pub async fn image_history(daemons: Arc<Daemons>, _ctx: Context, args: ImageArgs) -> Reply<History> {
    check_ref("image", &args.image)?;
    let call = daemons.read(args.host.as_deref()).await?;
    let history = call.docker.image_history(&args.image).await.map_err(call.fail(NO_IMAGE))?;
    let layers: Vec<Layer> = history
        .into_iter()
        .take(daemons.settings.max_rows)
        .map(|h| Layer {
            id: if h.id == "<missing>" { h.id } else { short_id(&h.id) },
            created: rfc3339(h.created),
            created_by: clip(&one_line(&h.created_by), 300),
            size: h.size,
            comment: one_line(&h.comment),
        })
        .collect();
    let cells: Vec<Vec<String>> = layers
        .iter()
        .map(|l| vec![l.id.clone(), l.created.clone(), clip(&l.created_by, 80), human_size(l.size), l.comment.clone()])
        .collect();
    let text = table(&["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], &cells);
    Ok(Rendered { text, data: History { host: call.name.clone(), image: args.image, layers } })
}

tool_args! {
    write TagArgs {
        /// The image to tag: `name:tag` or an id.
        pub image: String,
        /// The new repository, e.g. `registry.example:5000/team/app`.
        pub repository: String,
        /// The new tag (default `latest`).
        pub tag: Option<String>,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Done {
    pub host: String,
    /// What happened, in a sentence.
    pub message: String,
}

pub async fn tag_image(daemons: Arc<Daemons>, _ctx: Context, args: TagArgs) -> Reply<Done> {
    check_ref("image", &args.image)?;
    check_ref("repository", &args.repository)?;
    let tag = args.tag.clone().unwrap_or_else(|| "latest".into());
    if tag.is_empty() || tag.len() > 128 || !tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        return Err(ToolError::invalid_arguments(format!(
            "`tag`: `{}` is not a valid tag (letters, digits, _ . -; at most 128)",
            clip(&tag, 80)
        )));
    }
    let call = daemons.write(args.host.as_deref()).await?;
    let options = TagImageOptions { repo: Some(args.repository.clone()), tag: Some(tag.clone()) };
    call.docker.tag_image(&args.image, Some(options)).await.map_err(call.fail(NO_IMAGE))?;
    let message = format!("Tagged {} as {}:{tag}.", args.image, args.repository);
    Ok(said(message, |message| Done { host: call.name.clone(), message }))
}

tool_args! {
    write RemoveImageArgs {
        /// The image or tag to remove.
        pub image: String,
        /// Remove even if containers use it, and every tag of an id.
        #[serde(default)]
        pub force: bool,
    }
}

pub async fn remove_image(daemons: Arc<Daemons>, _ctx: Context, args: RemoveImageArgs) -> Reply<Done> {
    check_ref("image", &args.image)?;
    let call = daemons.write(args.host.as_deref()).await?;
    let options = RemoveImageOptions { force: args.force, ..Default::default() };
    let removed = call.docker.remove_image(&args.image, Some(options), None).await.map_err(call.fail(NO_IMAGE))?;
    let untagged = removed.iter().filter(|r| r.untagged.is_some()).count();
    let deleted = removed.iter().filter(|r| r.deleted.is_some()).count();
    let message = format!("Removed {}: {untagged} tag(s) untagged, {deleted} layer(s) deleted.", args.image);
    Ok(said(message, |message| Done { host: call.name.clone(), message }))
}

tool_args! {
    write PullArgs {
        /// The image: `name[:tag]` or `name@sha256:...` (tag default `latest`).
        pub image: String,
        /// The platform to pull, e.g. `linux/arm64` (default: the daemon's).
        pub platform: Option<String>,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transfer {
    pub host: String,
    pub image: String,
    /// Layers seen, and how many were already present.
    pub layers: usize,
    pub already_present: usize,
    /// Docker's last status line (e.g. `Status: Downloaded newer image for ...`).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Splits `name[:tag]` / `name@digest`, checking it can be a reference at all.
fn reference(image: &str) -> Result<(String, String), ToolError> {
    check_ref("image", image)?;
    if image.chars().any(|c| c.is_ascii_uppercase()) && !image.contains('@') {
        let (name, _) = image.rsplit_once(':').filter(|(_, t)| !t.contains('/')).unwrap_or((image, ""));
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ToolError::invalid_arguments(format!(
                "`image`: `{image}`: repository names must be lowercase"
            )));
        }
    }
    if let Some((name, digest)) = image.split_once('@') {
        return Ok((name.to_string(), digest.to_string()));
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => Ok((name.to_string(), tag.to_string())),
        _ => Ok((image.to_string(), "latest".to_string())),
    }
}

/// Turns Docker's per-layer progress lines into progress notifications: bytes done of
/// bytes known, at most a few per second.
struct Progress {
    layers: BTreeMap<String, (i64, i64, String)>,
    last: Option<Instant>,
}

impl Progress {
    fn new() -> Self {
        Self { layers: BTreeMap::new(), last: None }
    }

    fn update(&mut self, ctx: &Context, id: Option<&str>, status: &str, current: Option<i64>, total: Option<i64>) {
        let Some(id) = id.filter(|id| id.len() >= 8 && id.chars().all(|c| c.is_ascii_hexdigit())) else { return };
        let entry = self.layers.entry(id.to_string()).or_insert((0, 0, String::new()));
        if let Some(total) = total.filter(|t| *t > 0) {
            entry.1 = total;
        }
        if let Some(current) = current {
            entry.0 = current.min(entry.1.max(current));
        }
        if matches!(
            status,
            "Pull complete" | "Already exists" | "Pushed" | "Layer already exists" | "Download complete"
        ) {
            entry.0 = entry.1;
        }
        let changed = entry.2 != status;
        entry.2 = status.to_string();
        let due = self.last.is_none_or(|t| t.elapsed() >= Duration::from_millis(200));
        if changed || due {
            self.last = Some(Instant::now());
            let done: i64 = self.layers.values().map(|l| l.0).sum();
            let total: i64 = self.layers.values().map(|l| l.1).sum();
            let finished = self.layers.values().filter(|l| is_final(&l.2)).count();
            let message = format!("layer {}: {status} ({finished}/{} layers done)", short_id(id), self.layers.len());
            if total > 0 {
                ctx.progress(done as f64, Some(total as f64), Some(&message));
            } else {
                ctx.progress(finished as f64, Some(self.layers.len() as f64), Some(&message));
            }
        }
    }
}

fn is_final(status: &str) -> bool {
    matches!(status, "Pull complete" | "Already exists" | "Pushed" | "Layer already exists" | "Mounted from")
}

pub async fn pull_image(daemons: Arc<Daemons>, ctx: Context, args: PullArgs) -> Reply<Transfer> {
    let (name, tag) = reference(&args.image)?;
    let call = daemons.write(args.host.as_deref()).await?;
    let (from_image, tag) = if args.image.contains('@') { (args.image.clone(), None) } else { (name, Some(tag)) };
    let options = CreateImageOptions {
        from_image: Some(from_image),
        tag,
        platform: args.platform.clone().unwrap_or_default(),
        ..Default::default()
    };
    let mut stream = call.docker.create_image(Some(options), None, None);
    let mut progress = Progress::new();
    let mut status = String::new();
    let mut digest = None;
    while let Some(item) = stream.next().await {
        let info = item.map_err(call.fail("check the image name and tag, and that the registry is reachable"))?;
        let line = info.status.unwrap_or_default();
        let detail = info.progress_detail.unwrap_or_default();
        progress.update(&ctx, info.id.as_deref(), &line, detail.current, detail.total);
        if let Some(d) = line.strip_prefix("Digest: ") {
            digest = Some(d.trim().to_string());
        }
        if info.id.is_none() && !line.is_empty() {
            status = line;
        }
    }
    let layers = progress.layers.len();
    let already_present = progress.layers.values().filter(|l| l.2 == "Already exists").count();
    let text = format!("{status} ({layers} layer(s), {already_present} already present)");
    Ok(Rendered {
        text,
        data: Transfer { host: call.name.clone(), image: args.image, layers, already_present, status, digest },
    })
}

pub async fn push_image(daemons: Arc<Daemons>, ctx: Context, args: PullArgs) -> Reply<Transfer> {
    let (name, tag) = reference(&args.image)?;
    if args.image.contains('@') {
        return Err(ToolError::invalid_arguments("`image`: push a tag (`name:tag`), not a digest"));
    }
    let call = daemons.write(args.host.as_deref()).await?;
    let options = PushImageOptions { tag: Some(tag), platform: args.platform.clone() };
    // Older daemons refuse a push without an X-Registry-Auth header, even an empty one.
    let mut stream = call.docker.push_image(&name, Some(options), Some(DockerCredentials::default()));
    let (mut events, mut pushed, mut existing) = (0usize, 0usize, 0usize);
    let mut last: Option<Instant> = None;
    let mut status = String::new();
    let mut digest = None;
    while let Some(item) = stream.next().await {
        let info = item.map_err(call.fail("tag the image for the registry first (tag_image), then push that name"))?;
        let line = info.status.unwrap_or_default();
        let detail = info.progress_detail.unwrap_or_default();
        // bollard's push lines carry no layer id, so progress counts status lines.
        if info.error_detail.is_none() && !line.is_empty() {
            events += 1;
            let due = last.is_none_or(|t: Instant| t.elapsed() >= Duration::from_millis(200));
            if due {
                last = Some(Instant::now());
                let message = match (detail.current, detail.total) {
                    (Some(c), Some(t)) if t > 0 => format!("{line} ({c}/{t} bytes)"),
                    _ => line.clone(),
                };
                ctx.progress(events as f64, None, Some(&message));
            }
        }
        if line == "Pushed" {
            pushed += 1;
        } else if line == "Layer already exists" || line.starts_with("Mounted from") {
            existing += 1;
        }
        if let Some(at) = line.find("digest: ") {
            digest = line[at + 8..].split_whitespace().next().map(str::to_string);
        }
        if line.contains("digest: ") || line.starts_with("The push refers") {
            status = line.clone();
        }
    }
    let (layers, already_present) = (pushed + existing, existing);
    let text =
        format!("Pushed {}: {status} ({layers} layer(s), {already_present} already in the registry)", args.image);
    Ok(Rendered {
        text,
        data: Transfer { host: call.name.clone(), image: args.image, layers, already_present, status, digest },
    })
}

tool_args! {
    write BuildArgs {
        /// The build context: a directory on the server's host, under --allow-bind-path.
        pub context_dir: String,
        /// The Dockerfile, relative to the context (default `Dockerfile`).
        pub dockerfile: Option<String>,
        /// The name to give the image, `name[:tag]`.
        pub tag: Option<String>,
        /// Build arguments (ARG values).
        #[serde(default)]
        pub build_args: HashMap<String, String>,
        /// Network for RUN steps: `none`, `default`, or a network name (not `host` unless the
        /// server allows host namespaces).
        pub network: Option<String>,
        /// Build without the layer cache.
        #[serde(default)]
        pub no_cache: bool,
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Built {
    pub host: String,
    /// The new image's id.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Steps the Dockerfile ran.
    pub steps: usize,
}

pub async fn build_image(daemons: Arc<Daemons>, ctx: Context, args: BuildArgs) -> Reply<Built> {
    if let Some(tag) = &args.tag {
        reference(tag)?;
    }
    let dockerfile = args.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
    if dockerfile.starts_with('/') || dockerfile.split('/').any(|p| p == "..") {
        return Err(ToolError::invalid_arguments("`dockerfile`: a path inside the context, without `..`"));
    }
    if args.network.as_deref().is_some_and(|n| n.eq_ignore_ascii_case("host"))
        && !daemons.settings.guards.allow_host_namespaces
    {
        return Err(refuse(
            "host-namespace",
            "`network: host` gives build steps the host's network".into(),
            "Start the server with --allow-host-namespaces to permit it.",
        ));
    }
    let dir = daemons.host_path(&args.context_dir)?;
    if !dir.join(&dockerfile).is_file() {
        return Err(ToolError::invalid_arguments(format!("`dockerfile`: no {dockerfile} in {}", dir.display())));
    }
    let max = daemons.settings.max_copy_bytes;
    let root = dir.clone();
    // The context's own entries at the archive's root: `.` as the top-level name.
    let (archive, _, _) =
        tokio::task::spawn_blocking(move || super::files::build_archive(&root, std::ffi::OsStr::new("."), true, max))
            .await
            .map_err(|e| ToolError::failed(format!("building the context archive: {e}")))??;
    let call = daemons.write(args.host.as_deref()).await?;
    // RUN steps in another container's network namespace reach what it reaches.
    let mut network = args.network.clone();
    daemons.settings.scope.check_joins(&call, &mut [("network", &mut network)]).await?;
    let mut labels = provenance(std::iter::empty(), "build_image")?;
    // The image has its own creation time; a timestamp label would defeat the build cache.
    labels.remove("mcp-docker.created");
    let options = bollard::query_parameters::BuildImageOptions {
        dockerfile,
        t: args.tag.clone(),
        rm: true,
        forcerm: true,
        nocache: args.no_cache,
        buildargs: (!args.build_args.is_empty()).then(|| args.build_args.clone()),
        labels: Some(labels),
        networkmode: network,
        ..Default::default()
    };
    let mut stream = call.docker.build_image(options, None, Some(bollard::body_full(archive.into())));
    let mut log = Tail::new(50, 8 * 1024);
    let mut id = None;
    let mut steps = 0usize;
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(e) => {
                log.finish();
                let tail = log.text_of(Stream::Out);
                return Err(ToolError::failed(format!(
                    "{}\nLast lines of the build log:\n{tail}",
                    call.fail("check the Dockerfile and the base image (list_images)")(e)
                )));
            }
        };
        if let Some(text) = &info.stream {
            log.push(Stream::Out, text.as_bytes());
            if let Some(step) = text.strip_prefix("Step ") {
                steps += 1;
                ctx.progress(steps as f64, None, Some(&format!("Step {}", one_line(step.trim()))));
            }
        }
        if let Some(aux) = info.aux.and_then(|a| a.id) {
            id = Some(aux);
        }
    }
    log.finish();
    let id = id.ok_or_else(|| {
        ToolError::failed(format!(
            "host `{}`: the build ended without an image id. Last lines:\n{}",
            call.name,
            log.text_of(Stream::Out)
        ))
    })?;
    let text = format!(
        "Built {}{} in {steps} step(s). Last lines of the build log:\n{}",
        short_id(&id),
        args.tag.as_deref().map(|t| format!(" as {t}")).unwrap_or_default(),
        log.text_of(Stream::Out)
    );
    Ok(Rendered { text, data: Built { host: call.name.clone(), id, tag: args.tag, steps } })
}
