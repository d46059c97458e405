# mcp-docker as an HTTP server in a small non-root image. Build from the repository root:
#   docker build -f deploy/docker/mcp-docker.Dockerfile -t mcp-docker:0.1.0 .
#
# The server listens on 0.0.0.0:8080 and refuses to start there without
# authentication: give MCP_AUTH_TOKENS_FILE (a file of name=token lines, e.g. a
# mounted Secret) or OAuth (MCP_OAUTH_ISSUER, MCP_OAUTH_AUDIENCE, MCP_OAUTH_JWKS), and
# the same MCP_STATE_SECRET on every replica. Clients reaching it by a DNS name need
# that name in MCP_ALLOWED_HOSTS. Backend: a Docker engine (DOCKER_HOST; with DOCKER_TLS_VERIFY=1, the certificates under DOCKER_CERT_PATH).
# Probes: GET /healthz (liveness) and /readyz (readiness, the backend answers).

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release -p mcp-docker --locked \
    && install -m 0755 target/release/mcp-docker /usr/local/bin/mcp-docker

# glibc, libgcc and CA certificates, no shell; user 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /usr/local/bin/mcp-docker /usr/local/bin/mcp-docker
# The MCP Registry checks that the image names its server.json (packaging/mcp-docker).
LABEL io.modelcontextprotocol.server.name="io.github.mcp-connectors/mcp-docker"
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/mcp-docker", "--transport", "http", "--listen", "0.0.0.0:8080"]
