# mcp-kubernetes as an HTTP server in a small non-root image. Build from the repository root:
#   docker build -f deploy/docker/mcp-kubernetes.Dockerfile -t mcp-kubernetes:0.1.0 .
#
# The server listens on 0.0.0.0:8080 and refuses to start there without
# authentication: give MCP_AUTH_TOKENS_FILE (a file of name=token lines, e.g. a
# mounted Secret) or OAuth (MCP_OAUTH_ISSUER, MCP_OAUTH_AUDIENCE, MCP_OAUTH_JWKS), and
# the same MCP_STATE_SECRET on every replica. Clients reaching it by a DNS name need
# that name in MCP_ALLOWED_HOSTS. Backend: the Kubernetes API (--in-cluster / MCP_KUBERNETES_IN_CLUSTER=true with a ServiceAccount, or MCP_KUBERNETES_KUBECONFIG); no helm binary in the image, so the Helm write tools are unavailable.
# Probes: GET /healthz (liveness) and /readyz (readiness, the backend answers).

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release -p mcp-kubernetes --locked \
    && install -m 0755 target/release/mcp-kubernetes /usr/local/bin/mcp-kubernetes

# glibc, libgcc and CA certificates, no shell; user 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /usr/local/bin/mcp-kubernetes /usr/local/bin/mcp-kubernetes
# The MCP Registry checks that the image names its server.json (packaging/mcp-kubernetes).
LABEL io.modelcontextprotocol.server.name="io.github.mcp-connectors/mcp-kubernetes"
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/mcp-kubernetes", "--transport", "http", "--listen", "0.0.0.0:8080"]
