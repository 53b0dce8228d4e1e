# The blog service image: the binary on a minimal root filesystem assembled
# from Debian's packages (glibc, libgcc_s, the CA bundle: no shell, no package
# manager, no coreutils), two ways to get the binary.
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
#     The debug info stays out of the image; `--target debuginfo --output
#     type=local,dest=DIR` writes it to DIR/blog.debug (build-image.sh does).
#
#   BINARY_SOURCE=prebuilt: copies a binary that cargo built on the host
#     (${PREBUILT_BINARY} in the build context). Used where no Rust image can be
#     pulled (this project's offline CI); scripts/build-image.sh strips the
#     binary, keeps its debug info beside the SBOMs, stages the stripped binary
#     in a tiny context and selects this. The runtime stage is the same.
#
# Either way the image's binary has no debug sections (116 MB of line tables
# -> 0) but keeps its symbol table, so a backtrace still names functions; the
# line tables are in blog.debug, linked by .gnu_debuglink (gdb, addr2line).
#
# Bills of materials: scripts/build-image.sh builds the `os` stage first and
# lists its Debian packages (syft reads /var/lib/dpkg/status.d, one record per
# package, as in Google's distroless images), writes the binary's crate list
# (cargo-cyclonedx), stores both next to the image and passes their sha256 and
# file names in SBOM_RUST / SBOM_OS, which become labels (empty when the image
# is built without that script). See docs/supply-chain.md.
#
# BuildKit builds only the stages the runtime stage needs, so the unused
# source is never pulled. Runtime: a fixed non-root UID/GID, nothing written
# outside /tmp (runs with --read-only), no secrets in any layer or in ENV.

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
# The debug sections move to /out/blog.debug (compressed), the binary keeps
# a link to it and its symbols.
COPY app app
RUN --mount=type=secret,id=ca,required=false \
    --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    if [ -s /run/secrets/ca ]; then export CARGO_HTTP_CAINFO=/run/secrets/ca; fi; \
    touch app/src/main.rs app/src/lib.rs \
 && cargo build --release --locked -p blog \
 && mkdir -p /out \
 && objcopy --only-keep-debug --compress-debug-sections=zlib target/release/blog /out/blog.debug \
 && objcopy --strip-debug --add-gnu-debuglink=/out/blog.debug target/release/blog /out/blog

# `--target debuginfo --output type=local,dest=DIR`: the builder's debug info.
FROM scratch AS debuginfo
COPY --from=builder /out/blog.debug /blog.debug

FROM scratch AS prebuilt
ARG PREBUILT_BINARY=blog
COPY ${PREBUILT_BINARY} /out/blog

# hadolint ignore=DL3006
FROM ${BINARY_SOURCE} AS binary

# The runtime's files, gathered in /rootfs from Debian's packages: the C
# library's loader, libc and libm, libgcc_s (unwinding), the CA bundle (TLS to
# S3, SMTP and Postgres providers), the dpkg records and copyright files of
# exactly those three packages, and the user and group the fixed IDs name
# (Kubernetes' runAsUser/fsGroup and volume ownership match them).
# libgcc-s1's doc directory is a symlink to its gcc-N-base's, which the slim
# image's dpkg filter drops: its copyright is taken from there.
FROM ${RUNTIME_IMAGE} AS rootfs
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log
RUN r=/rootfs packages="libc6 libgcc-s1 ca-certificates" \
 && install -d -m 0755 "$r/etc/ssl/certs" "$r/var/lib/dpkg/status.d" "$r/usr/local/bin" \
 && install -d -m 1777 "$r/tmp" \
 && libs="$(dpkg -L libc6 libgcc-s1 | grep -E '/(ld-linux[-a-z0-9_.]*\.so\.[0-9]+|libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1)$')" \
 && [ "$(wc -l <<<"$libs")" -ge 5 ] \
 && xargs cp -a --parents -t "$r" <<<"$libs" \
 && for p in $packages; do \
      doc="/usr/share/doc/$p/copyright"; \
      [ -f "$doc" ] || doc="/usr/share/doc/$(dpkg-query -W -f '${Depends}' "$p" | grep -o 'gcc-[0-9]*-base')/copyright"; \
      dpkg-query -s "$p" > "$r/var/lib/dpkg/status.d/$p" \
   && install -D -m 0644 "$doc" "$r/usr/share/doc/$p/copyright" || exit 1; \
    done \
 && cp -L /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/" \
 && cp -L /etc/os-release "$r/etc/os-release" \
 && printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nblog:x:10001:10001:blog:/nonexistent:/usr/sbin/nologin\n' > "$r/etc/passwd" \
 && printf 'root:x:0:\nblog:x:10001:\n' > "$r/etc/group" \
 && printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$r/etc/nsswitch.conf"

# The binary must start on exactly that filesystem: a library it needs and
# the root filesystem lacks fails the build here, not the container later.
FROM rootfs AS checked
COPY --from=binary --chmod=0755 /out/blog /rootfs/usr/local/bin/blog
RUN chroot /rootfs /usr/local/bin/blog --version

# Everything of the runtime but the binary and the labels: the OS SBOM
# describes exactly this stage's packages, which the runtime stage inherits.
FROM scratch AS os
COPY --from=rootfs /rootfs/ /

FROM os AS runtime
COPY --from=checked /rootfs/usr/local/bin/blog /usr/local/bin/blog

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
