# Optional local stand-in for the public Rust image (RUST_IMAGE in
# dockerfiles/images.env), only to exercise the app
# Dockerfile's `builder` stage where no Rust image can be pulled: the host's
# rustup toolchain (passed as the build context by build-offline-images.sh)
# plus Debian's C toolchain for linking. Same CARGO_HOME and PATH as upstream.
# The local base (RUNTIME_IMAGE_LOCAL in dockerfiles/images.env), passed by
# build-offline-images.sh.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

# Unpinned on purpose: bookworm only takes security fixes, and a pinned version
# disappears from the mirror when the next one lands.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev binutils ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY . /usr/local/rust
ENV CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/rust/bin:$PATH
RUN mkdir -p /usr/local/cargo/bin && rustc --version && cargo --version
