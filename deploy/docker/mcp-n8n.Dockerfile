# mcp-n8n as an HTTP server in a small non-root image. Build from the repository root:
#   docker build -f deploy/docker/mcp-n8n.Dockerfile -t mcp-n8n:0.1.0 .
#
# The server listens on 0.0.0.0:8080 and refuses to start there without
# authentication: give MCP_AUTH_TOKENS_FILE (a file of name=token lines, e.g. a
# mounted Secret) or OAuth (MCP_OAUTH_ISSUER, MCP_OAUTH_AUDIENCE, MCP_OAUTH_JWKS), and
# the same MCP_STATE_SECRET on every replica. Clients reaching it by a DNS name need
# that name in MCP_ALLOWED_HOSTS. Backend: n8n (N8N_API_URL and N8N_API_KEY_FILE, or MCP_N8N_INSTANCES_FILE).
# Probes: GET /healthz (liveness) and /readyz (readiness, the backend answers).

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release -p mcp-n8n --locked \
    && install -m 0755 target/release/mcp-n8n /usr/local/bin/mcp-n8n

# glibc, libgcc and CA certificates, no shell; user 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /usr/local/bin/mcp-n8n /usr/local/bin/mcp-n8n
# The MCP Registry checks that the image names its server.json (packaging/mcp-n8n).
LABEL io.modelcontextprotocol.server.name="io.github.mcp-connectors/mcp-n8n"
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/mcp-n8n", "--transport", "http", "--listen", "0.0.0.0:8080"]
