# The blog service image: one runtime stage, two ways to get the binary.
#
#   BINARY_SOURCE=builder (default, what users and online CI get): compiles the
#     release binary in ${RUST_IMAGE}. Dependencies are compiled in their own
#     layer from the manifests and Cargo.lock alone (the workspace's sources are
#     replaced by empty stubs), so a source change rebuilds only the blog crate.
#     crates.io is reached with the build host's CA bundle passed as a BuildKit
#     secret (`--secret id=ca,src=...`, optional): it never lands in a layer.
#     Build with `scripts/build-image.sh --source builder`, or by hand from the
#     repository root with the images of dockerfiles/images.env:
#       DOCKER_BUILDKIT=1 docker build -f dockerfiles/app.Dockerfile \
#         --build-arg RUST_IMAGE=... --build-arg RUNTIME_IMAGE=... -t blog .
#
#   BINARY_SOURCE=prebuilt: copies a binary that cargo built on the host
#     (${PREBUILT_BINARY} in the build context). Used where no Rust image can be
#     pulled (this project's offline CI); scripts/build-image.sh stages the
#     binary in a tiny context and selects this. The runtime stage is the same.
#
# Either way the binary keeps its line tables (readable backtraces) with the
# debug sections zlib-compressed: 116 MB -> 42 MB.
#
# Bills of materials: scripts/build-image.sh builds the `os` stage first and
# lists its Debian packages (syft), writes the binary's crate list
# (cargo-cyclonedx), stores both next to the image and passes their sha256 and
# file names in SBOM_RUST / SBOM_OS, which become labels (empty when the image
# is built without that script). See docs/supply-chain.md.
#
# BuildKit builds only the stages the runtime stage needs, so the unused
# source is never pulled. Runtime: Debian slim + CA certificates + the binary
# (which links only glibc), a fixed non-root UID/GID, nothing written outside
# /tmp (runs with --read-only), no secrets in any layer or in ENV.

# No defaults: the image list (dockerfiles/images.env) is the one place that
# names them, and scripts/build-image.sh passes them.
ARG RUST_IMAGE
ARG RUNTIME_IMAGE
ARG BINARY_SOURCE=builder

FROM ${RUST_IMAGE} AS builder
WORKDIR /src
# Dependency layer: only what decides the dependency graph. Every workspace
# member needs a manifest and a target for cargo to load the workspace.
COPY Cargo.toml Cargo.lock ./
COPY app/Cargo.toml app/Cargo.toml
COPY integration-tests/Cargo.toml integration-tests/Cargo.toml
COPY charts/tests/Cargo.toml charts/tests/Cargo.toml
RUN for member in app integration-tests charts/tests; do \
      mkdir -p "$member/src" && echo 'fn main() {}' > "$member/src/main.rs" && touch "$member/src/lib.rs"; \
    done
RUN --mount=type=secret,id=ca,required=false \
    --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    if [ -s /run/secrets/ca ]; then export CARGO_HTTP_CAINFO=/run/secrets/ca; fi; \
    cargo build --release --locked -p blog
# The real sources; touching them makes cargo rebuild the blog crate only.
COPY app app
RUN --mount=type=secret,id=ca,required=false \
    --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    if [ -s /run/secrets/ca ]; then export CARGO_HTTP_CAINFO=/run/secrets/ca; fi; \
    touch app/src/main.rs app/src/lib.rs \
 && cargo build --release --locked -p blog \
 && install -D -m 0755 target/release/blog /out/blog \
 && objcopy --compress-debug-sections=zlib /out/blog

FROM scratch AS prebuilt
ARG PREBUILT_BINARY=blog
COPY ${PREBUILT_BINARY} /out/blog

# hadolint ignore=DL3006
FROM ${BINARY_SOURCE} AS binary

# Everything of the runtime but the binary and the labels: the OS SBOM
# describes exactly this stage's packages, which the runtime stage inherits.
FROM ${RUNTIME_IMAGE} AS os
# ca-certificates: TLS to S3/SMTP/Postgres providers. The fixed IDs let
# Kubernetes' runAsUser/fsGroup and volume ownership match the image.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 10001 blog \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin blog

FROM os AS runtime
COPY --from=binary --chmod=0755 /out/blog /usr/local/bin/blog

# Last, so that a new commit (new REVISION) does not invalidate the layers above.
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
ARG SOURCE=https://github.com/example/blog-rs
# "<sha256>  <file name>" (sha256sum's format) of each SBOM shipped beside the
# image: `sha256sum -c` in the SBOM directory verifies a file against the image.
ARG SBOM_RUST=""
ARG SBOM_OS=""
LABEL org.opencontainers.image.title="blog" \
      org.opencontainers.image.description="Blog service: accounts and posts behind an OpenAPI-described HTTP API" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      com.example.blog.sbom.rust="${SBOM_RUST}" \
      com.example.blog.sbom.os="${SBOM_OS}"

USER 10001:10001
WORKDIR /tmp
ENV BLOG_HTTP__HOST=0.0.0.0 \
    BLOG_HTTP__PORT=8080
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/usr/local/bin/blog", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/blog"]
CMD ["serve"]
