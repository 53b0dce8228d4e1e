# Local stand-in for the official redis image, from Debian's redis-server.
# Like upstream: runs in the foreground as the redis user in /data, accepts
# `redis-server` options as arguments, and turns protected mode off when no
# config file is given (the container network is the boundary).
# The local base (RUNTIME_IMAGE_LOCAL in dockerfiles/images.env), passed by
# build-offline-images.sh.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

# Unpinned on purpose: bookworm only takes security fixes, and a pinned version
# disappears from the mirror when the next one lands.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data \
 && chown redis:redis /data

COPY --chmod=0755 redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["redis-cli", "ping"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
